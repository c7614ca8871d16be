//! SNS's `Publish`: how the event relay hands an event to the functions
//! subscribed to its topic.

use super::{AwsError, Service};

pub struct Sns(Service);

impl Sns {
    pub fn new(
        region: &str,
        endpoint: Option<&str>,
        credentials: super::sigv4::Credentials,
    ) -> Sns {
        Sns(Service::new("sns", region, endpoint, credentials))
    }

    /// Publishes `message` to `topic_arn` with the string attributes
    /// `attributes` (which subscription filter policies can match);
    /// answers SNS's message id.
    pub async fn publish(
        &self,
        topic_arn: &str,
        message: &str,
        attributes: &[(&str, &str)],
    ) -> Result<String, AwsError> {
        let mut params = vec![
            ("TopicArn".to_string(), topic_arn.to_string()),
            ("Message".to_string(), message.to_string()),
        ];
        for (i, (name, value)) in attributes.iter().enumerate() {
            let entry = format!("MessageAttributes.entry.{}", i + 1);
            params.push((format!("{entry}.Name"), name.to_string()));
            params.push((format!("{entry}.Value.DataType"), "String".into()));
            params.push((format!("{entry}.Value.StringValue"), value.to_string()));
        }
        let answer = self.0.query("Publish", "2010-03-31", &params).await?;
        super::xml::first(&answer, "MessageId").ok_or_else(|| AwsError::Unexpected {
            service: "sns",
            operation: "Publish",
            detail: format!("no MessageId in {answer:.200}"),
        })
    }
}
