// mockroot.hpp: a small, WORKING, test-only stand-in for the ROOT classes that the macro
// cpp/examples/correct_branch.C uses (TFile, TTree, TBranch, TTreeReader, TTreeReaderValue,
// TString::Format, ::Error, ::Info), so that the real macro runs end to end in cling (cppyy)
// where ROOT cannot be installed. Not ROOT: the "ROOT files" it reads and writes are text dumps
// (tests/ffi_c.rs writes them from real branch values and reads the macro's output back):
//
//   mockroot 1
//   tree NAME ENTRIES BRANCHES
//   branch NAME TYPE              (TYPE: vector<float> or float)
//   N HEX HEX ...                 (one line per entry: value count, then each float's bits)
//
// Semantics follow ROOT's where the macro depends on them: TFile::Open returns nullptr for a
// missing file, a zombie for an unreadable one, creates the file at once for "RECREATE" and
// makes the opened file the current directory; `new TTree` attaches to the current directory,
// which owns it (deleted by Close); TTree::Write stores the tree in its file; a TTreeReader
// whose value cannot be set up (no such branch, wrong type) ends at once with an error.
// Messages of ::Error and ::Info go to stderr as "Error in <location>: ..." and are kept in
// mockroot::messages() for tests. The individual headers (TFile.h, ...) include this file.
#ifndef REFLOAT_MOCKROOT_HPP
#define REFLOAT_MOCKROOT_HPP

#include <cctype>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__GNUC__) || defined(__clang__)
#define MOCKROOT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MOCKROOT_PRINTF(f, a)
#endif

namespace mockroot {

/// Every ::Error / ::Info line so far (tests clear and read it).
inline std::vector<std::string>& messages() {
    static std::vector<std::string> m;
    return m;
}

inline std::string vformat(const char* fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(nullptr, 0, fmt, copy);
    va_end(copy);
    if (n < 0) return fmt;
    std::string s(static_cast<std::size_t>(n) + 1, '\0');
    std::vsnprintf(&s[0], s.size(), fmt, ap);
    s.resize(static_cast<std::size_t>(n));
    return s;
}

inline void report(const char* level, const char* location, const std::string& text) {
    std::string line = std::string(level) + " in <" + (location ? location : "") + ">: " + text;
    messages().push_back(line);
    std::fprintf(stderr, "%s\n", line.c_str());
}

/// One branch: its name, type ("vector<float>" or "float") and values per entry.
struct Column {
    std::string name;
    std::string type;
    std::vector<std::vector<float>> entries;
};

/// One tree: its name, entry count and branches.
struct TreeData {
    std::string name;
    std::size_t entries = 0;
    std::vector<Column> columns;
};

/// Read a dump; false (with `why`) if the file is missing or malformed.
inline bool read_dump(const std::string& path, std::vector<TreeData>& trees, std::string& why) {
    std::ifstream in(path);
    if (!in) {
        why = "cannot read";
        return false;
    }
    std::string word;
    int version = 0;
    if (!(in >> word >> version) || word != "mockroot" || version != 1) {
        why = "not a mockroot file";
        return false;
    }
    while (in >> word) {
        if (word != "tree") {
            why = "expected 'tree', got '" + word + "'";
            return false;
        }
        TreeData t;
        std::size_t nbranches = 0;
        if (!(in >> t.name >> t.entries >> nbranches)) {
            why = "bad tree header";
            return false;
        }
        for (std::size_t b = 0; b < nbranches; ++b) {
            Column c;
            if (!(in >> word >> c.name >> c.type) || word != "branch" ||
                (c.type != "vector<float>" && c.type != "float")) {
                why = "bad branch header in tree " + t.name;
                return false;
            }
            c.entries.resize(t.entries);
            for (auto& e : c.entries) {
                std::size_t n = 0;
                if (!(in >> n) || (c.type == "float" && n != 1)) {
                    why = "bad entry in branch " + c.name;
                    return false;
                }
                e.resize(n);
                for (auto& v : e) {
                    std::string hex;
                    if (!(in >> hex)) {
                        why = "truncated branch " + c.name;
                        return false;
                    }
                    const std::uint32_t bits = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
                    std::memcpy(&v, &bits, sizeof v);
                }
            }
            t.columns.push_back(std::move(c));
        }
        trees.push_back(std::move(t));
    }
    return true;
}

/// Write trees as a dump; false if the file cannot be written.
inline bool write_dump(const std::string& path, const std::vector<TreeData>& trees) {
    std::ofstream out(path, std::ios::trunc);
    if (!out) return false;
    out << "mockroot 1\n";
    for (const auto& t : trees) {
        out << "tree " << t.name << ' ' << t.entries << ' ' << t.columns.size() << '\n';
        for (const auto& c : t.columns) {
            out << "branch " << c.name << ' ' << c.type << '\n';
            for (const auto& e : c.entries) {
                out << e.size();
                for (float v : e) {
                    std::uint32_t bits;
                    std::memcpy(&bits, &v, sizeof bits);
                    char hex[12];
                    std::snprintf(hex, sizeof hex, " %08x", static_cast<unsigned>(bits));
                    out << hex;
                }
                out << '\n';
            }
        }
    }
    out.flush();
    return static_cast<bool>(out);
}

class ValueBase;

}  // namespace mockroot

// ---- TError.h ------------------------------------------------------------------------------
inline void Error(const char* location, const char* fmt, ...) MOCKROOT_PRINTF(2, 3);
inline void Error(const char* location, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mockroot::report("Error", location, mockroot::vformat(fmt, ap));
    va_end(ap);
}
inline void Info(const char* location, const char* fmt, ...) MOCKROOT_PRINTF(2, 3);
inline void Info(const char* location, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mockroot::report("Info", location, mockroot::vformat(fmt, ap));
    va_end(ap);
}

// ---- TString.h -----------------------------------------------------------------------------
class TString {
public:
    TString() = default;
    TString(const char* s) : s_(s ? s : "") {}
    static TString Format(const char* fmt, ...) MOCKROOT_PRINTF(1, 2);
    const char* Data() const { return s_.c_str(); }
    operator const char*() const { return s_.c_str(); }

private:
    std::string s_;
};
inline TString TString::Format(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    TString t(mockroot::vformat(fmt, ap).c_str());
    va_end(ap);
    return t;
}

// ---- TObject, TDirectory -------------------------------------------------------------------
class TObject {
public:
    virtual ~TObject() = default;
    virtual const char* GetName() const { return ""; }
};

class TTree;

class TDirectory : public TObject {
public:
    /// The current directory (ROOT's gDirectory): where `new TTree` attaches.
    static TDirectory*& Current() {
        static TDirectory* current = nullptr;
        return current;
    }
    ~TDirectory() override {
        if (Current() == this) Current() = nullptr;
    }
    template <class T>
    void GetObject(const char* namecycle, T*& ptr) {
        ptr = dynamic_cast<T*>(Get(namecycle));
    }
    virtual TObject* Get(const char* namecycle) = 0;
    virtual bool cd() {
        Current() = this;
        return true;
    }
    /// Take ownership of an object (ROOT: the directory's list of objects).
    void Append(TObject* obj) { owned_.emplace_back(obj); }
    /// Store a tree's contents (TTree::Write); the number of bytes written, 0 on failure.
    virtual int WriteTree(const mockroot::TreeData& data) = 0;

protected:
    std::vector<std::unique_ptr<TObject>> owned_;
};

// ---- TBranch.h -----------------------------------------------------------------------------
class TBranch : public TObject {
public:
    TBranch(std::string name, std::string type) : name_(std::move(name)), type_(std::move(type)) {}
    const char* GetName() const override { return name_.c_str(); }
    /// The class of the branch's objects: "vector<float>" for a jagged branch, "" for a leaf
    /// list (float), as in ROOT.
    virtual const char* GetClassName() const { return type_ == "float" ? "" : type_.c_str(); }

private:
    std::string name_;
    std::string type_;
};

// ---- TTree.h -------------------------------------------------------------------------------
class TTree : public TObject {
public:
    /// A new, empty tree attached to (owned by) the current directory.
    TTree(const char* name, const char* title, int splitlevel = 99) : dir_(TDirectory::Current()) {
        (void)title;
        (void)splitlevel;
        data_.name = name;
        if (dir_) dir_->Append(this);
    }
    /// A tree read from a file (owned by it).
    TTree(mockroot::TreeData data, TDirectory* dir) : data_(std::move(data)), dir_(dir) {
        for (const auto& c : data_.columns) branches_.emplace_back(new TBranch(c.name, c.type));
    }
    const char* GetName() const override { return data_.name.c_str(); }
    long long GetEntries() const { return static_cast<long long>(data_.entries); }

    virtual TBranch* GetBranch(const char* name) {
        for (auto& b : branches_)
            if (std::strcmp(b->GetName(), name) == 0) return b.get();
        return nullptr;
    }
    /// An object branch; only std::vector<float> in this mock.
    template <class T>
    TBranch* Branch(const char* name, T* obj, int bufsize = 32000, int splitlevel = 99) {
        static_assert(std::is_same<T, std::vector<float>>::value, "mockroot: only std::vector<float> object branches");
        (void)bufsize;
        (void)splitlevel;
        return add_branch(name, "vector<float>", obj);
    }
    /// A leaf-list branch; only one float leaf ("name/F") in this mock.
    TBranch* Branch(const char* name, void* address, const char* leaflist, int bufsize = 32000) {
        (void)bufsize;
        const std::string l(leaflist ? leaflist : "");
        if (l.size() < 2 || l.compare(l.size() - 2, 2, "/F") != 0 || l.find(':') != std::string::npos) {
            ::Error("TTree::Branch", "mockroot supports one float leaf (\"name/F\"), not \"%s\"", l.c_str());
            return nullptr;
        }
        return add_branch(name, "float", address);
    }
    /// Append the current values at the branches' addresses as a new entry.
    virtual int Fill() {
        int bytes = 0;
        for (std::size_t i = 0; i < targets_.size(); ++i) {
            mockroot::Column& c = data_.columns[i];
            if (c.type == "float") {
                c.entries.push_back({*static_cast<const float*>(targets_[i])});
            } else {
                c.entries.push_back(*static_cast<const std::vector<float>*>(targets_[i]));
            }
            bytes += static_cast<int>(c.entries.back().size() * sizeof(float));
        }
        data_.entries += 1;
        return bytes;
    }
    /// Store the tree in its file; bytes written, 0 on failure.
    virtual int Write(const char* name = nullptr, int option = 0, int bufsize = 0) {
        (void)option;
        (void)bufsize;
        if (!dir_) {
            ::Error("TTree::Write", "tree %s is not attached to a file", GetName());
            return 0;
        }
        mockroot::TreeData copy = data_;
        if (name && name[0]) copy.name = name;
        return dir_->WriteTree(copy);
    }
    /// mockroot: the values of a branch (nullptr if there is none).
    const mockroot::Column* GetColumn(const char* name) const {
        for (const auto& c : data_.columns)
            if (c.name == name) return &c;
        return nullptr;
    }

private:
    TBranch* add_branch(const char* name, const char* type, const void* address) {
        if (GetBranch(name)) {
            ::Error("TTree::Branch", "tree %s already has a branch %s", GetName(), name);
            return nullptr;
        }
        mockroot::Column c;
        c.name = name;
        c.type = type;
        c.entries.resize(data_.entries);
        data_.columns.push_back(std::move(c));
        targets_.push_back(address);
        branches_.emplace_back(new TBranch(name, type));
        return branches_.back().get();
    }

    mockroot::TreeData data_;
    TDirectory* dir_ = nullptr;
    std::vector<std::unique_ptr<TBranch>> branches_;
    std::vector<const void*> targets_;  // addresses of the output branches, by column
};

// ---- TFile.h -------------------------------------------------------------------------------
class TFile : public TDirectory {
public:
    /// "READ" (or ""): nullptr if the file does not exist, a zombie if it is not readable.
    /// "RECREATE": creates (truncates) the file now; nullptr if that fails. The opened file
    /// becomes the current directory.
    static TFile* Open(const char* name, const char* option = "") {
        std::string opt(option ? option : "");
        for (auto& ch : opt) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        TFile* f = nullptr;
        if (opt.empty() || opt == "READ") {
            if (!std::ifstream(name)) {
                ::Error("TFile::TFile", "file %s does not exist", name);
                return nullptr;
            }
            f = new TFile(name, false);
            std::string why;
            if (!mockroot::read_dump(name, f->stored_, why)) {
                ::Error("TFile::Init", "%s: %s", name, why.c_str());
                f->zombie_ = true;
            }
        } else if (opt == "RECREATE") {
            f = new TFile(name, true);
            if (!mockroot::write_dump(name, {})) {
                ::Error("TFile::TFile", "file %s can not be opened for writing", name);
                f->open_ = false;
                delete f;
                return nullptr;
            }
        } else {
            ::Error("TFile::Open", "mockroot supports READ and RECREATE, not %s", option);
            return nullptr;
        }
        f->cd();
        return f;
    }
    ~TFile() override { Close(); }
    const char* GetName() const override { return path_.c_str(); }
    bool IsZombie() const { return zombie_; }

    TObject* Get(const char* namecycle) override {
        if (zombie_ || !open_) return nullptr;
        std::string name(namecycle ? namecycle : "");
        name = name.substr(0, name.find(';'));
        for (auto* t : read_trees_)
            if (name == t->GetName()) return t;
        for (const auto& t : stored_)
            if (t.name == name) {
                TTree* tree = new TTree(t, this);
                Append(tree);
                read_trees_.push_back(tree);
                return tree;
            }
        return nullptr;
    }
    int WriteTree(const mockroot::TreeData& data) override {
        if (!writable_ || !open_) {
            ::Error("TFile::WriteTObject", "file %s is not writable", path_.c_str());
            return 0;
        }
        bool replaced = false;
        for (auto& t : stored_)
            if (t.name == data.name) {
                t = data;
                replaced = true;
            }
        if (!replaced) stored_.push_back(data);
        if (!mockroot::write_dump(path_, stored_)) {
            ::Error("TFile::WriteTObject", "cannot write %s", path_.c_str());
            return 0;
        }
        int bytes = 1;
        for (const auto& c : data.columns)
            for (const auto& e : c.entries) bytes += static_cast<int>(e.size() * sizeof(float));
        return bytes;
    }
    /// Write what was stored (writable files) and delete the objects the file owns.
    virtual void Close(const char* option = "") {
        (void)option;
        if (!open_) return;
        if (writable_ && !mockroot::write_dump(path_, stored_))
            ::Error("TFile::Close", "cannot write %s", path_.c_str());
        open_ = false;
        read_trees_.clear();
        owned_.clear();
        if (Current() == this) Current() = nullptr;
    }

private:
    TFile(std::string path, bool writable) : path_(std::move(path)), writable_(writable) {}

    std::string path_;
    bool writable_ = false;
    bool zombie_ = false;
    bool open_ = true;
    std::vector<mockroot::TreeData> stored_;  // the trees in the file
    std::vector<TTree*> read_trees_;          // trees handed out by Get (owned by owned_)
};

// ---- TTreeReader.h, TTreeReaderValue.h -----------------------------------------------------
namespace mockroot {
/// What TTreeReader drives: one TTreeReaderValue.
class ValueBase {
public:
    virtual ~ValueBase() = default;
    /// Load the value of `entry`; false (with an error message) if it cannot be set up.
    virtual bool Load(const TTree& tree, std::size_t entry) = 0;
};
}  // namespace mockroot

class TTreeReader {
public:
    explicit TTreeReader(TTree* tree) : tree_(tree) {}
    /// Advance to the next entry and load every value; false at the end or if a value
    /// cannot be set up (ROOT: kEntryBadReader).
    bool Next() {
        if (!tree_ || bad_) return false;
        ++entry_;
        if (entry_ >= tree_->GetEntries()) return false;
        for (auto* v : values_)
            if (!v->Load(*tree_, static_cast<std::size_t>(entry_))) {
                bad_ = true;
                return false;
            }
        return true;
    }
    long long GetCurrentEntry() const { return entry_; }
    void Attach(mockroot::ValueBase* v) { values_.push_back(v); }
    void Detach(mockroot::ValueBase* v) {
        for (auto it = values_.begin(); it != values_.end(); ++it)
            if (*it == v) {
                values_.erase(it);
                return;
            }
    }

private:
    TTree* tree_ = nullptr;
    long long entry_ = -1;
    bool bad_ = false;
    std::vector<mockroot::ValueBase*> values_;
};

template <class T>
class TTreeReaderValue : public mockroot::ValueBase {
    static_assert(std::is_same<T, float>::value || std::is_same<T, std::vector<float>>::value,
                  "mockroot: TTreeReaderValue<float> or TTreeReaderValue<std::vector<float>>");

public:
    TTreeReaderValue(TTreeReader& reader, const char* branchname) : reader_(&reader), branch_(branchname) {
        reader.Attach(this);
    }
    ~TTreeReaderValue() override { reader_->Detach(this); }
    TTreeReaderValue(const TTreeReaderValue&) = delete;
    TTreeReaderValue& operator=(const TTreeReaderValue&) = delete;

    T& operator*() { return value_; }
    T* operator->() { return &value_; }
    T* Get() { return &value_; }

    bool Load(const TTree& tree, std::size_t entry) override {
        const mockroot::Column* c = tree.GetColumn(branch_.c_str());
        const char* want = std::is_same<T, float>::value ? "float" : "vector<float>";
        if (!c) {
            ::Error("TTreeReaderValueBase::CreateProxy()", "The tree does not have a branch called %s.",
                    branch_.c_str());
            return false;
        }
        if (c->type != want) {
            ::Error("TTreeReaderValueBase::CreateProxy()",
                    "The branch %s contains data of type %s. It cannot be accessed by a TTreeReaderValue<%s>",
                    branch_.c_str(), c->type.c_str(), want);
            return false;
        }
        assign(c->entries[entry]);
        return true;
    }

private:
    template <class U = T>
    typename std::enable_if<std::is_same<U, float>::value>::type assign(const std::vector<float>& e) {
        value_ = e.at(0);
    }
    template <class U = T>
    typename std::enable_if<!std::is_same<U, float>::value>::type assign(const std::vector<float>& e) {
        value_ = e;
    }

    TTreeReader* reader_;
    std::string branch_;
    T value_{};
};

#endif  // REFLOAT_MOCKROOT_HPP
