//! Compiles `filerw.x` into Rust, as `rpcgen` compiles it into C.

fn main() {
    if let Err(e) = courier_idl::compile("filerw.x") {
        panic!("{e}");
    }
}
