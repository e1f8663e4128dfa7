#pragma once
class TObject;
class TDirectory {
public:
    virtual ~TDirectory();
    template <class T> void GetObject(const char* namecycle, T*& ptr);
    virtual bool cd();
};
class TFile : public TDirectory {
public:
    static TFile* Open(const char* name, const char* option = "");
    bool IsZombie() const;
    virtual void Close(const char* option = "");
};
