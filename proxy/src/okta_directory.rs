//! PLACEHOLDER until the directory branch is merged: the interface only.

/// Who a user is at Okta now, as the Management API says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub id: String,
    pub status: String,
    pub email: String,
    pub groups: Vec<String>,
}

/// Why a user could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("no such user at Okta")]
    NotFound,
    #[error("Okta refused: {0}")]
    Refused(String),
    #[error("Okta is unavailable: {0}")]
    Unavailable(String),
    #[error("Okta's answer could not be read: {0}")]
    BadAnswer(String),
}

/// Reads users at Okta.
#[async_trait::async_trait]
pub trait UserDirectory: Send + Sync {
    async fn user(&self, user_id: &str) -> Result<DirectoryUser, DirectoryError>;
}
