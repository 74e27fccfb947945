//! MariaDB / MySQL for the integration tests: each test gets a randomly named database on
//! the server of `EASBASE_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`) and drops
//! it at the end.
#![allow(dead_code, unreachable_pub)]

use easbase_core::db::{Db, MyConfig};

/// The server's URL, without a database.
pub fn mysql_url() -> String {
    std::env::var("EASBASE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A handle on the server (no database), failing with how to start it.
pub async fn mysql_server() -> Db {
    let base = mysql_url();
    Db::connect_mysql(MyConfig::new(base.clone()).pool_size(1)).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach MariaDB/MySQL at `{base}` ({e}).\nStart it: start-stop-daemon --start --oknodo \
             --background --exec /usr/sbin/mariadbd\nor point EASBASE_MYSQL_URL at a server."
        )
    })
}

/// A fresh database `t_<random>` and a pool of `pool_size` on it.
pub async fn mysql_database(pool_size: u32) -> (Db, String) {
    let name = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    mysql_server().await.execute_script(&[format!("create database {name}")]).await.unwrap();
    let url = format!("{}/{name}", mysql_url().trim_end_matches('/'));
    (Db::connect_mysql(MyConfig::new(url).pool_size(pool_size)).await.unwrap(), name)
}

/// Drops a test database and the databases `p_<id>` of the `projects` made on it.
pub async fn drop_mysql_database(name: &str, projects: &[String]) {
    let server = mysql_server().await;
    let mut script: Vec<String> =
        projects.iter().map(|id| format!("drop database if exists p_{}", id.replace('-', "_"))).collect();
    script.push(format!("drop database if exists {name}"));
    server.execute_script(&script).await.unwrap();
}
