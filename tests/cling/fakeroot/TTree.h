#pragma once
#include "TBranch.h"
class TTree {
public:
    TTree(const char* name, const char* title, int splitlevel = 99);
    virtual ~TTree();
    virtual TBranch* GetBranch(const char* name);
    template <class T> TBranch* Branch(const char* name, T* obj, int bufsize = 32000, int splitlevel = 99);
    TBranch* Branch(const char* name, void* address, const char* leaflist, int bufsize = 32000);
    virtual int Fill();
    virtual int Write(const char* name = nullptr, int option = 0, int bufsize = 0);
};
