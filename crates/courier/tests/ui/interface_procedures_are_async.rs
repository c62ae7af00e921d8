#[courier::interface(program = 0x2000_0001, version = 1)]
pub trait NotAsync {
    fn ping(&self) -> u32;
    async fn pong(self) -> u32;
    async fn ok(&self, (a, b): (u32, u32)) -> u32;
}

fn main() {}
