#pragma once
class TInterpreter {
public:
    virtual ~TInterpreter();
    virtual long ProcessLine(const char* line, int* error = nullptr) = 0;
};
extern TInterpreter* gInterpreter;
