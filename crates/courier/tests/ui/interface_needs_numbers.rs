#[courier::interface(version = 1, colour = 2)]
pub trait Missing {
    async fn ping(&self) -> u32;
}

fn main() {}
