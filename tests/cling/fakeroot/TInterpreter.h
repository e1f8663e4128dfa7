#pragma once
class TInterpreter {
public:
    enum EErrorCode { kNoError = 0, kRecoverable = 1, kDangerous = 2, kFatal = 3, kProcessing = 99 };
    virtual ~TInterpreter();
    virtual long ProcessLine(const char* line, EErrorCode* error = nullptr) = 0;
};
extern TInterpreter* gInterpreter;
