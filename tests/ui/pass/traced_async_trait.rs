//! `#[async_trait]` methods: `#[traced]` instruments the boxed future async-trait generates.

use async_trait::async_trait;
use traced::traced;

#[async_trait]
trait Repository {
    async fn find(&self, id: u64) -> Result<String, String>;
    async fn count(&mut self) -> usize;
}

struct Names {
    names: Vec<String>,
    reads: usize,
}

#[async_trait]
impl Repository for Names {
    #[traced(name = "names.find", attributes(id, names.len = self.names.len()))]
    async fn find(&self, id: u64) -> Result<String, String> {
        tokio::task::yield_now().await;
        let index = usize::try_from(id).map_err(|error| error.to_string())?;
        self.names.get(index).cloned().ok_or_else(|| format!("no name {id}"))
    }

    #[traced]
    async fn count(&mut self) -> usize {
        self.reads += 1;
        self.names.len()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut repository = Names { names: vec!["ada".into()], reads: 0 };
    assert_eq!(repository.find(0).await, Ok("ada".to_owned()));
    assert!(repository.find(5).await.is_err());
    assert_eq!(repository.count().await, 1);
    let shared: Box<dyn Repository + Send + Sync> = Box::new(Names { names: vec![], reads: 0 });
    assert!(shared.find(0).await.is_err());
}
