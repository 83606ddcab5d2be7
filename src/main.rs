fn main() {
    std::process::exit(vnx::cli::main());
}
