//! A database-like dependency: a session is opened per request and used by the handler, the way
//! the guide's `Depends(get_db)` with `yield` works.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

/// A row of the demo `users` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
}

/// The in-memory demo database, shared by every request.
#[derive(Debug, Clone)]
pub struct Database {
    users: Arc<BTreeMap<u64, User>>,
}

impl Database {
    /// Users 1 to 3 (the load generator asks for exactly these).
    pub fn demo() -> Self {
        let users = ["Ada", "Grace", "Linus"]
            .into_iter()
            .zip(1..)
            .map(|(name, id)| (id, User { id, name: name.to_owned() }))
            .collect();
        Self { users: Arc::new(users) }
    }

    /// Opens a session, as a pool hands out a connection.
    pub async fn session(&self) -> DbSession {
        // A real pool may wait for a free connection; give the scheduler the same chance.
        tokio::task::yield_now().await;
        DbSession { database: self.clone() }
    }
}

/// One request's use of the database.
#[derive(Debug)]
pub struct DbSession {
    database: Database,
}

impl DbSession {
    pub fn find_user(&self, id: u64) -> Option<User> {
        self.database.users.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_users_are_found_and_others_are_not() {
        let session = Database::demo().session().await;
        assert_eq!(session.find_user(2), Some(User { id: 2, name: "Grace".into() }));
        assert_eq!(session.find_user(0), None);
        assert_eq!(session.find_user(4), None);
    }
}
