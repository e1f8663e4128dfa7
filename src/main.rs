fn main() {
    eprintln!("refloat: command-line interface not built yet");
    std::process::exit(2);
}
