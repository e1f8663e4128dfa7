#pragma once
class TString {
public:
    static TString Format(const char* fmt, ...);
    operator const char*() const;
};
