#pragma once
class TTreeReader;
template <class T>
class TTreeReaderValue {
public:
    TTreeReaderValue(TTreeReader& reader, const char* branchname);
    T& operator*();
    T* operator->();
};
