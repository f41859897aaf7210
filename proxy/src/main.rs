fn main() { eprintln!("okta-mcp-proxy: not built yet"); std::process::exit(2); }
