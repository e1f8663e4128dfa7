#pragma once
class TSystem {
public:
    virtual ~TSystem();
    virtual int Load(const char* module, const char* entry = "", bool system = false);
    virtual int Unlink(const char* name);
};
extern TSystem* gSystem;
