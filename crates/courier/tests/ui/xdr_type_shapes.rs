#[derive(courier::XdrType)]
pub struct Pair(u32, u32);

#[derive(courier::XdrType)]
pub enum Shape {
    Point { x: i32 },
}

fn main() {}
