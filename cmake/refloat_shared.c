/* librefloat.so is linked by CMake from cargo's librefloat.a (see CMakeLists.txt); this file
 * only gives the shared library target a source. */
typedef int refloat_shared_library_has_no_c_sources;
