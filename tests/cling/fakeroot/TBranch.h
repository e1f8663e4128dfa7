#pragma once
class TBranch {
public:
    virtual ~TBranch();
    virtual const char* GetClassName() const;
};
