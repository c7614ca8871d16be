//! Server configuration: defaults -> TOML file -> `DROPCAST_*` env -> flags.
//!
//! Every layer is turned into a TOML table and merged key by key over the
//! previous one, then the result is deserialized into [`Config`], whose serde
//! defaults are the embedded defaults. So a key can be set in any layer by the
//! same name: `max_parts = 100` in the file, `DROPCAST_MAX_PARTS=100` in the
//! environment, and for the common ones `--max-parts`-style flags.

use anyhow::{Context, Result};
use dropcast_api::Sensitive;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address `serve` listens on.
    pub bind: SocketAddr,
    /// Where the database (by default) and the stored bytes live.
    pub data_dir: PathBuf,
    /// The URL people reach the server at; links are built on it.
    /// Defaults to `http://{bind}`.
    pub public_url: Option<String>,
    /// `sqlite://...` or `postgres://...`; defaults to
    /// `{data_dir}/dropcast.db`.
    pub database_url: Option<String>,
    /// Connections in the database pool; 0: 8 for SQLite, 16 for
    /// PostgreSQL. A Lambda function wants 1 or 2.
    pub database_pool: u32,
    /// Part size suggested to clients.
    pub part_size: u64,
    /// Every part but the last must be at least this big. Small parts keep
    /// the tail a screencast sends when it stops small (its parts go while
    /// it records); an S3 store needs 5 MiB.
    pub min_part_size: u64,
    /// No part may be bigger (S3: 5 GiB).
    pub max_part_size: u64,
    /// Part numbers run 1..=max_parts (S3: 10,000).
    pub max_parts: u32,
    /// No drop may be bigger.
    pub max_drop_size: u64,
    /// No file sent to the one-shot `POST /api/v1/upload` may be bigger.
    pub max_oneshot_size: u64,
    /// Seconds a part URL stays valid.
    pub part_url_ttl: u64,
    /// Seconds a reserved, unused drop id stays valid.
    pub reservation_ttl: u64,
    /// Largest batch of ids one `reserve` call hands out.
    pub max_reserve: u32,
    /// fsync stored bytes before acknowledging them.
    pub fsync: bool,
    /// Name of the account created by the first `serve` on an empty database.
    pub owner_name: String,
    /// Seconds a new drop lives unless it says otherwise; 0: for ever.
    pub default_expiry: u64,
    /// Seconds between two runs of the cleanup job in `serve`; 0: never
    /// (run `dropcast-server cleanup` instead).
    pub cleanup_interval: u64,
    /// Seconds after which an upload that never completed is aborted.
    pub stale_upload_age: u64,
    /// Seconds the cleanup sweep leaves new objects and drops alone, so
    /// that it never races an upload or a delete in flight.
    pub sweep_grace: u64,
    /// Handle events (thumbnails) in the `serve` process. Off: run
    /// `dropcast-server work` next to it.
    pub worker: bool,
    /// Failed requests (bad tokens, wrong passwords, unknown ids) one
    /// client address may make in a minute before it is answered 429;
    /// 0: no limit.
    pub abuse_threshold: u32,
    /// Failed requests one valid token may make in a minute before it is
    /// answered 429 (its failures never count against its address);
    /// 0: no limit.
    pub abuse_threshold_signed_in: u32,
    /// Seconds such a client is answered 429.
    pub abuse_cooldown: u64,
    /// Seconds a correct drop password keeps the drop open in that browser.
    pub unlock_ttl: u64,
    /// Where drops' bytes go: `local` (files under the data dir) or `s3`
    /// (a bucket; the keys come from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`).
    pub blobs: BlobsKind,
    /// S3: the bucket.
    pub s3_bucket: Option<String>,
    /// S3: the region; defaults to `AWS_REGION`, then us-east-1.
    pub s3_region: Option<String>,
    /// S3: the endpoint, `http(s)://host[:port]`; defaults to AWS's for
    /// the region.
    pub s3_endpoint: Option<String>,
    /// S3: the bucket in the path rather than the host name (SeaweedFS,
    /// MinIO and other stores on one host).
    pub s3_path_style: bool,
    /// S3: delete in batches of up to 1,000 keys (DeleteObjects). Off for
    /// a store without DeleteObjects (Google Cloud Storage's XML API):
    /// then one DeleteObject per key.
    pub s3_batch_delete: bool,
    /// S3: seconds a download URL stays valid.
    pub download_url_ttl: u64,
    /// Events go to SNS rather than to handlers in this process: each kind
    /// to the topic whose ARN is this prefix and the kind with `-` for
    /// `.` (`arn:aws:sns:REGION:ACCOUNT:dropcast-prod-` and
    /// `drop.completed`: `...:dropcast-prod-drop-completed`). The keys
    /// come from the same variables as S3's.
    pub sns_topic_prefix: Option<String>,
    /// SNS: the endpoint, `http(s)://host[:port]`; defaults to AWS's for
    /// the topics' region.
    pub sns_endpoint: Option<String>,
    /// The guard function: the ARN of the WAF IP set (IPv4) it blocks
    /// addresses in.
    pub guard_ip_set_arn: Option<String>,
    /// The guard function: its IP set for IPv6 addresses.
    pub guard_ip_set_v6_arn: Option<String>,
    /// WAFv2's endpoint; defaults to AWS's for the IP set's region.
    pub waf_endpoint: Option<String>,
    /// `GET /metrics` answers requests with `Authorization: Bearer` this;
    /// unset, it answers loopback peers of a server whose `public_url` is
    /// this machine, and no one else.
    pub metrics_token: Option<Sensitive<String>>,
    /// Webhooks may point at loopback and private addresses (a server on
    /// a private network); off, they must resolve to public ones.
    pub webhook_private_addresses: bool,
    /// Behind CloudFront: the secret it sends as `x-dropcast-edge-secret`.
    /// A request that carries it has its client's address in
    /// `x-dropcast-client-ip` (set by a CloudFront function from the
    /// viewer's); any other is taken to come from its own peer.
    pub edge_secret: Option<Sensitive<String>>,
    /// S3 behind CloudFront: the distribution that serves the bucket's
    /// objects (`https://d111111abcdef8.cloudfront.net`). Download links
    /// are its signed URLs, and it adds `nosniff`, the sandbox CSP and
    /// CORP to what the bucket answers. Needs the two keys below.
    pub raw_cdn_url: Option<String>,
    /// The id of the CloudFront public key the distribution trusts.
    pub raw_cdn_key_id: Option<String>,
    /// The RSA 2048 private key (PEM) whose public half that is.
    pub raw_cdn_private_key: Option<Sensitive<String>>,
}

/// Where drops' bytes go; see [`Config::blobs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BlobsKind {
    #[default]
    Local,
    S3,
}

/// S3 refuses parts (but the last) under 5 MiB.
pub const S3_MIN_PART_SIZE: u64 = 5 * MIB;

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: default_data_dir(),
            public_url: None,
            database_url: None,
            database_pool: 0,
            part_size: 8 * MIB,
            min_part_size: MIB,
            max_part_size: 5 * GIB,
            max_parts: 10_000,
            max_drop_size: 50 * GIB,
            max_oneshot_size: 100 * MIB,
            part_url_ttl: 6 * 3600,
            reservation_ttl: 7 * 24 * 3600,
            max_reserve: 100,
            fsync: true,
            owner_name: "owner".into(),
            default_expiry: 0,
            cleanup_interval: 600,
            stale_upload_age: 7 * 24 * 3600,
            sweep_grace: 3600,
            worker: true,
            abuse_threshold: 60,
            abuse_threshold_signed_in: 600,
            abuse_cooldown: 300,
            unlock_ttl: 3600,
            blobs: BlobsKind::Local,
            s3_bucket: None,
            s3_region: None,
            s3_endpoint: None,
            s3_path_style: false,
            s3_batch_delete: true,
            download_url_ttl: 300,
            sns_topic_prefix: None,
            sns_endpoint: None,
            guard_ip_set_arn: None,
            guard_ip_set_v6_arn: None,
            waf_endpoint: None,
            edge_secret: None,
            webhook_private_addresses: false,
            metrics_token: None,
            raw_cdn_url: None,
            raw_cdn_key_id: None,
            raw_cdn_private_key: None,
        }
    }
}

fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("org", "dropcast", "dropcast")
        .map(|d| d.data_dir().join("server"))
        .unwrap_or_else(|| PathBuf::from("dropcast-data"))
}

/// The config file used when none is named: `$XDG_CONFIG_HOME/dropcast/server.toml`.
pub fn default_config_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "dropcast", "dropcast")
        .map(|d| d.config_dir().join("server.toml"))
}

impl Config {
    /// Builds the configuration from its layers. `file` is the TOML file to
    /// read (it must exist when given explicitly); `env` is the process
    /// environment; `flags` holds the values given on the command line.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: Table,
    ) -> Result<Config> {
        let mut merged = Table::new();
        // Where each key's value came from, for errors that name it.
        let mut sources: Vec<(String, String)> = Vec::new();
        let file = match file {
            Some(f) => Some(f.to_path_buf()),
            None => default_config_file().filter(|f| f.exists()),
        };
        let file_read = file.as_ref().map(|f| f.display().to_string());
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let table: Table = toml::from_str(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?;
            for key in table.keys() {
                sources.push((key.clone(), format!("`{key}` in {}", path.display())));
            }
            merged.extend(table);
        }
        let env = env_table(env);
        for key in env.keys() {
            sources.push((
                key.clone(),
                format!("DROPCAST_{}", key.to_ascii_uppercase()),
            ));
        }
        merged.extend(env);
        for key in flags.keys() {
            sources.push((key.clone(), format!("--{}", key.replace('_', "-"))));
        }
        merged.extend(flags);
        // Where the settings came from, for an error that no one key
        // explains.
        let mut layers: Vec<String> = file_read.into_iter().collect();
        if sources.iter().any(|(_, s)| s.starts_with("DROPCAST_")) {
            layers.push("the DROPCAST_* variables".into());
        }
        if sources.iter().any(|(_, s)| s.starts_with("--")) {
            layers.push("the flags".into());
        }
        let from = match layers.as_slice() {
            [] => "the defaults".to_string(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        };
        let config: Config =
            serde_path_to_error::deserialize(Value::Table(merged)).map_err(|e| {
                let key = e.path().iter().next().map(|s| s.to_string());
                // The last layer that set a key is the one that counts.
                let source = key
                    .as_deref()
                    .and_then(|k| sources.iter().rev().find(|(s, _)| s == k))
                    .map(|(_, source)| source.clone())
                    .or_else(|| {
                        // An unknown key is reported at the top: find it in
                        // the message ("unknown field `max_partz`").
                        let inner = e.inner().to_string();
                        sources
                            .iter()
                            .rev()
                            .find(|(k, _)| inner.contains(&format!("`{k}`")))
                            .map(|(_, source)| source.clone())
                    })
                    .unwrap_or_else(|| from.clone());
                anyhow::anyhow!("invalid configuration: {source}: {}", e.inner())
            })?;
        // A value that parses but does not fit the others: say where the
        // settings came from, as for one that does not parse.
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid configuration (from {from}): {e:#}"))?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.min_part_size >= 1,
            "min_part_size must be at least 1 byte"
        );
        anyhow::ensure!(
            self.min_part_size() <= self.part_size && self.part_size <= self.max_part_size,
            "need min_part_size <= part_size <= max_part_size (got {} / {} / {}{})",
            self.min_part_size(),
            self.part_size,
            self.max_part_size,
            if self.blobs == BlobsKind::S3 {
                "; with blobs = \"s3\" parts are at least 5 MiB"
            } else {
                ""
            }
        );
        if self.blobs == BlobsKind::S3 {
            anyhow::ensure!(
                self.s3_bucket.as_deref().is_some_and(|b| !b.is_empty()),
                "blobs = \"s3\" needs a bucket: set s3_bucket (DROPCAST_S3_BUCKET)"
            );
            anyhow::ensure!(
                self.max_parts <= 10_000 && self.max_part_size <= 5 * GIB,
                "with blobs = \"s3\", max_parts may be at most 10000 and max_part_size at \
                 most 5 GiB (S3's limits)"
            );
            if let Some(url) = &self.s3_endpoint {
                anyhow::ensure!(
                    url.starts_with("http://") || url.starts_with("https://"),
                    "s3_endpoint must start with http:// or https:// (got {url})"
                );
            }
        }
        if let Some(prefix) = &self.sns_topic_prefix {
            anyhow::ensure!(
                prefix.starts_with("arn:") && crate::aws::arn_region(prefix).is_some(),
                "sns_topic_prefix must be the start of an SNS topic ARN, \
                 arn:aws:sns:REGION:ACCOUNT:NAME-PREFIX (got {prefix})"
            );
        }
        if let Some(url) = &self.sns_endpoint {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "sns_endpoint must start with http:// or https:// (got {url})"
            );
        }
        let cdn = [
            self.raw_cdn_url.is_some(),
            self.raw_cdn_key_id.is_some(),
            self.raw_cdn_private_key.is_some(),
        ];
        if cdn.contains(&true) {
            anyhow::ensure!(
                !cdn.contains(&false),
                "raw_cdn_url, raw_cdn_key_id and raw_cdn_private_key go together: set all three \
                 (DROPCAST_RAW_CDN_*) or none"
            );
            anyhow::ensure!(
                self.blobs == BlobsKind::S3,
                "raw_cdn_url serves a bucket: it needs blobs = \"s3\""
            );
            let url = self.raw_cdn_url.as_deref().unwrap_or_default();
            anyhow::ensure!(
                url.starts_with("https://") || url.starts_with("http://"),
                "raw_cdn_url must start with https:// (got {url})"
            );
            // A key that cannot sign fails here, at start, not on the
            // first download.
            self.raw_cdn()?;
        }
        anyhow::ensure!(self.max_parts >= 1, "max_parts must be at least 1");
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "public_url must start with http:// or https:// (got {url})"
            );
        }
        Ok(())
    }

    /// The base of every link, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("dropcast.db").display()
            ),
        }
    }

    /// The smallest a part but the last may be: `min_part_size`, and on
    /// S3 at least S3's own minimum.
    pub fn min_part_size(&self) -> u64 {
        match self.blobs {
            BlobsKind::Local => self.min_part_size,
            BlobsKind::S3 => self.min_part_size.max(S3_MIN_PART_SIZE),
        }
    }

    /// The S3 settings, when `blobs = "s3"`.
    pub fn s3(&self) -> Option<crate::blobs::s3::S3Config> {
        if self.blobs != BlobsKind::S3 {
            return None;
        }
        let region = self
            .s3_region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
            .unwrap_or_else(|| "us-east-1".into());
        Some(crate::blobs::s3::S3Config {
            endpoint: self
                .s3_endpoint
                .clone()
                .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"))
                .trim_end_matches('/')
                .to_string(),
            bucket: self.s3_bucket.clone().unwrap_or_default(),
            region,
            path_style: self.s3_path_style,
            batch_delete: self.s3_batch_delete,
        })
    }

    /// The signer of download URLs through CloudFront, when the three
    /// `raw_cdn_*` keys are set.
    pub fn raw_cdn(&self) -> Result<Option<crate::aws::cloudfront::UrlSigner>> {
        let (Some(url), Some(id), Some(key)) = (
            &self.raw_cdn_url,
            &self.raw_cdn_key_id,
            &self.raw_cdn_private_key,
        ) else {
            return Ok(None);
        };
        crate::aws::cloudfront::UrlSigner::new(url, id, key)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("raw_cdn_private_key: {e}"))
    }

    pub fn upload_limits(&self) -> dropcast_api::UploadLimits {
        dropcast_api::UploadLimits {
            part_size: self.part_size,
            min_part_size: self.min_part_size(),
            max_part_size: self.max_part_size,
            max_parts: self.max_parts,
            max_size: self.max_drop_size,
        }
    }
}

/// `DROPCAST_MAX_PARTS=10` -> `max_parts = 10`. Values are read as TOML
/// scalars when they parse as one (numbers, booleans), else as strings.
/// `DROPCAST_CONFIG` names the file and is not a key; the `dropcast` CLI's
/// own variables (dropcast-client's settings) are not the server's.
const NOT_KEYS: [&str; 5] = ["CONFIG", "LOG", "SERVER", "CREDENTIALS", "PARALLEL"];

fn env_table(env: impl IntoIterator<Item = (String, String)>) -> Table {
    let mut table = Table::new();
    for (key, raw) in env {
        let Some(name) = key.strip_prefix("DROPCAST_") else {
            continue;
        };
        if NOT_KEYS.contains(&name) {
            continue;
        }
        let value = toml::from_str::<Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| !v.is_table() && !v.is_array())
            .unwrap_or_else(|| Value::String(raw.clone()));
        table.insert(name.to_ascii_lowercase(), value);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_override_in_order_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            "max_parts = 7\npart_size = 6000000\nowner_name = \"file\"\n",
        )
        .unwrap();
        let mut flags = Table::new();
        flags.insert("owner_name".into(), Value::String("flag".into()));
        let c = Config::load(
            Some(&file),
            env(&[("DROPCAST_MAX_PARTS", "9"), ("DROPCAST_OWNER_NAME", "env")]),
            flags,
        )
        .unwrap();
        assert_eq!(c.part_size, 6_000_000, "file beats default");
        assert_eq!(c.max_parts, 9, "env beats file");
        assert_eq!(c.owner_name, "flag", "flag beats env");
        assert_eq!(c.min_part_size, MIB, "default stays");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_source_named() {
        let err =
            Config::load(None, env(&[("DROPCAST_MAX_PARTZ", "1")]), Table::new()).unwrap_err();
        assert!(format!("{err:#}").contains("max_partz"), "{err:#}");
        assert!(format!("{err:#}").contains("DROPCAST_MAX_PARTZ"), "{err:#}");
        let err = Config::load(None, env(&[("DROPCAST_BIND", "nope")]), Table::new()).unwrap_err();
        assert!(format!("{err:#}").contains("DROPCAST_BIND"), "{err:#}");
        // The layer that set the bad value is named, not one it overrode.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(&file, "max_parts = \"many\"\nbind = \"127.0.0.1:1\"\n").unwrap();
        let err = Config::load(Some(&file), env(&[]), Table::new()).unwrap_err();
        let shown = format!("{err:#}");
        assert!(
            shown.contains("`max_parts` in") && shown.contains("server.toml"),
            "{shown}"
        );
        let mut flags = Table::new();
        flags.insert("bind".into(), Value::String("nope".into()));
        let err = Config::load(None, env(&[("DROPCAST_BIND", "127.0.0.1:2")]), flags).unwrap_err();
        assert!(format!("{err:#}").contains("--bind"), "{err:#}");
    }

    #[test]
    fn values_that_parse_but_do_not_fit_name_where_the_settings_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(&file, "max_parts = 0\n").unwrap();
        let err = Config::load(Some(&file), env(&[]), Table::new()).unwrap_err();
        let shown = format!("{err:#}");
        assert!(
            shown.contains("max_parts") && shown.contains("server.toml"),
            "{shown}"
        );
        let err = Config::load(
            Some(&file),
            env(&[("DROPCAST_BIND", "127.0.0.1:3")]),
            Table::new(),
        )
        .unwrap_err();
        let shown = format!("{err:#}");
        assert!(
            shown.contains("server.toml and the DROPCAST_* variables"),
            "{shown}"
        );
    }

    #[test]
    fn the_cli_s_own_variables_are_not_taken_for_server_keys() {
        let client = env(&[
            ("DROPCAST_SERVER", "http://x"),
            ("DROPCAST_CREDENTIALS", "file"),
            ("DROPCAST_PARALLEL", "2"),
        ]);
        Config::load(None, client, Table::new()).unwrap();
    }

    #[test]
    fn the_cloudfront_keys_come_together_on_s3_and_a_key_that_cannot_sign_stops_the_start() {
        let s3 = [("DROPCAST_BLOBS", "s3"), ("DROPCAST_S3_BUCKET", "b")];
        let load = |extra: &[(&str, &str)]| {
            let mut all = s3.to_vec();
            all.extend_from_slice(extra);
            Config::load(None, env(&all), Table::new())
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        };
        let url = ("DROPCAST_RAW_CDN_URL", "https://d1.cloudfront.net");
        let id = ("DROPCAST_RAW_CDN_KEY_ID", "K1");
        let err = load(&[url, id]).unwrap_err();
        assert!(err.contains("go together"), "{err}");
        let err = load(&[url, id, ("DROPCAST_RAW_CDN_PRIVATE_KEY", "hunter2")]).unwrap_err();
        assert!(
            err.contains("raw_cdn_private_key: the key is not a PEM block"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = Config::load(
            None,
            env(&[url, id, ("DROPCAST_RAW_CDN_PRIVATE_KEY", "x")]),
            Table::new(),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("needs blobs = \"s3\""),
            "{err:#}"
        );
        load(&[]).unwrap();
    }

    #[test]
    fn string_values_that_look_like_numbers_stay_usable() {
        let c = Config::load(
            None,
            env(&[
                ("DROPCAST_BIND", "127.0.0.1:9999"),
                ("DROPCAST_FSYNC", "false"),
            ]),
            Table::new(),
        )
        .unwrap();
        assert_eq!(c.bind.port(), 9999);
        assert!(!c.fsync);
        assert_eq!(c.public_url(), "http://127.0.0.1:9999");
    }
}
