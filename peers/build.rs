//! Generates the tonic client and server of the gRPC peer's one service, `Echo`, from a
//! description in Rust (tonic-build's `manual` module) instead of a `.proto` file, so that
//! building the peers needs no `protoc`. The messages are written by hand in
//! `src/grpc.rs` with `#[derive(prost::Message)]`; the code generated here is the same
//! that `tonic-prost-build` would generate from
//!
//! ```proto
//! package courier.peers;
//! message Blob { bytes data = 1; }
//! service Echo { rpc Echo(Blob) returns (Blob); }
//! ```

fn main() {
    // Only this file decides what is generated (without this line, any change under
    // peers/, results included, would rerun it and rebuild the crate).
    println!("cargo:rerun-if-changed=build.rs");
    let echo = tonic_build::manual::Service::builder()
        .name("Echo")
        .package("courier.peers")
        .method(
            tonic_build::manual::Method::builder()
                .name("echo")
                .route_name("Echo")
                .input_type("crate::grpc::Blob")
                .output_type("crate::grpc::Blob")
                .codec_path("tonic_prost::ProstCodec")
                .build(),
        )
        .build();
    tonic_build::manual::Builder::new().compile(&[echo]);
}
