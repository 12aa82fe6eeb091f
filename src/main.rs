fn main() {
    std::process::exit(laketide::cli::main());
}
