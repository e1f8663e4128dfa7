#pragma once
class TTree;
class TTreeReader {
public:
    explicit TTreeReader(TTree* tree);
    bool Next();
};
