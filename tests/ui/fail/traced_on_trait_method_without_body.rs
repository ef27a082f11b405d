use traced::traced;

trait Store {
    #[traced]
    fn get(&self, id: u64) -> Option<String>;
}

fn main() {}
