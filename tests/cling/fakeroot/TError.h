#pragma once
void Error(const char* location, const char* fmt, ...);
void Info(const char* location, const char* fmt, ...);
