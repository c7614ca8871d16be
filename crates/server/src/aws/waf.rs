//! WAFv2's IP sets: what the guard function keeps in step with the
//! addresses it blocks (`GetIPSet`, then `UpdateIPSet` with its lock
//! token, which replaces the whole list).

use super::{AwsError, Service};

const TARGET: &str = "AWSWAF_20190729";

/// One IP set, named by its ARN
/// (`arn:aws:wafv2:REGION:ACCOUNT:global/ipset/NAME/ID`; `global` is
/// CloudFront's scope, `regional` any other).
pub struct IpSet {
    service: Service,
    name: String,
    id: String,
    scope: &'static str,
}

impl IpSet {
    pub fn new(
        arn: &str,
        endpoint: Option<&str>,
        credentials: super::sigv4::Credentials,
    ) -> Result<IpSet, String> {
        let bad = || {
            format!("{arn} is not a WAFv2 IP set's ARN (arn:aws:wafv2:REGION:ACCOUNT:global/ipset/NAME/ID)")
        };
        let region = super::arn_region(arn).ok_or_else(bad)?;
        let resource = arn.splitn(6, ':').nth(5).ok_or_else(bad)?;
        let parts: Vec<&str> = resource.split('/').collect();
        let [scope, "ipset", name, id] = parts[..] else {
            return Err(bad());
        };
        let scope = match scope {
            "global" => "CLOUDFRONT",
            "regional" => "REGIONAL",
            _ => return Err(bad()),
        };
        Ok(IpSet {
            service: Service::new("wafv2", region, endpoint, credentials),
            name: name.to_string(),
            id: id.to_string(),
            scope,
        })
    }

    fn key(&self) -> serde_json::Value {
        serde_json::json!({ "Name": self.name, "Scope": self.scope, "Id": self.id })
    }

    /// The set's addresses (CIDR), and the lock token an update needs.
    pub async fn get(&self) -> Result<(Vec<String>, String), AwsError> {
        let answer = self
            .service
            .json("GetIPSet", &format!("{TARGET}.GetIPSet"), &self.key())
            .await?;
        let addresses = answer["IPSet"]["Addresses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let token = answer["LockToken"].as_str().unwrap_or_default().to_string();
        Ok((addresses, token))
    }

    /// Makes the set hold exactly `addresses` (CIDR); true when it changed.
    /// Another writer in between makes WAF refuse the lock token: then it
    /// reads and tries again.
    pub async fn set(&self, addresses: &[String]) -> Result<bool, AwsError> {
        let mut wanted = addresses.to_vec();
        wanted.sort();
        let mut tries = 0;
        loop {
            let (mut current, token) = self.get().await?;
            current.sort();
            if current == wanted {
                return Ok(false);
            }
            let mut body = self.key();
            body["Addresses"] = serde_json::json!(wanted);
            body["LockToken"] = serde_json::json!(token);
            match self
                .service
                .json("UpdateIPSet", &format!("{TARGET}.UpdateIPSet"), &body)
                .await
            {
                Ok(_) => return Ok(true),
                Err(AwsError::Refused { code, .. })
                    if code == "WAFOptimisticLockException" && tries < 3 =>
                {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
