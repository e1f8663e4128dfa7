#pragma once
class TSystem {
public:
    virtual ~TSystem();
    virtual int Load(const char* module, const char* entry = "", bool system = false);
};
extern TSystem* gSystem;
