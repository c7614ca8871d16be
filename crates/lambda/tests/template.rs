//! `deploy/serverless.yml` as it deploys: packaged offline by the pinned
//! framework (`osls package --stage offline`, npm packages installed by
//! `cargo xtask test`), linted by cfn-lint (PyPI), then read as the
//! CloudFormation template AWS would get.

use dropcast_tests::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const FUNCTIONS: [&str; 4] = ["Api", "Events", "Cleanup", "Guard"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The packaged template, after cfn-lint passed it.
fn template() -> Value {
    let dir = deploy_dir();
    let osls = dir.join("node_modules/.bin/osls");
    assert!(
        osls.exists(),
        "{} is missing: `cargo xtask test` installs deploy/'s npm packages",
        osls.display()
    );
    // The zips only need to exist: the template is what is tested.
    let artifacts = tempfile::tempdir().unwrap();
    for f in ["api", "events", "cleanup", "guard"] {
        std::fs::write(artifacts.path().join(format!("dropcast-lambda-{f}.zip")), f).unwrap();
    }
    // The framework keeps state beside the file it packages: each test
    // packages a copy of its own.
    let work = tempfile::tempdir().unwrap();
    for f in ["serverless.yml", "package.json"] {
        std::fs::copy(dir.join(f), work.path().join(f)).unwrap();
    }
    std::os::unix::fs::symlink(dir.join("node_modules"), work.path().join("node_modules")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let packaged = Command::new(&osls)
        .args(["package", "--stage", "offline"])
        .arg(format!("--param=artifacts={}", artifacts.path().display()))
        .arg("--package")
        .arg(out.path())
        .current_dir(work.path())
        .env("SLS_TELEMETRY_DISABLED", "1")
        .env("SLS_NOTIFICATIONS_MODE", "off")
        // No credentials: packaging must not need any.
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        packaged.status.success(),
        "osls package: {}{}",
        String::from_utf8_lossy(&packaged.stdout),
        String::from_utf8_lossy(&packaged.stderr)
    );
    let file = out.path().join("cloudformation-template-update-stack.json");
    // W3005 (a DependsOn a Ref already implies) is the framework's doing.
    let lint = Command::new(venv_tool("cfn-lint", "cfn-lint"))
        .args(["-i", "W3005", "--"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

/// The resources of type `kind`.
fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

fn get_att(name: &str, att: &str) -> Value {
    json!({ "Fn::GetAtt": [name, att] })
}

fn reference(name: &str) -> Value {
    json!({ "Ref": name })
}

#[test]
fn every_function_is_its_own_arm64_zip_wired_to_its_events() {
    let t = template();
    let r = &t["Resources"];
    let mut keys = Vec::new();
    for f in FUNCTIONS {
        let p = &r[format!("{f}LambdaFunction")]["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023", "{f}");
        assert_eq!(p["Architectures"], json!(["arm64"]), "{f}");
        assert_eq!(p["Handler"], "bootstrap", "{f}");
        assert_eq!(p["Role"], get_att(&format!("{f}Role"), "Arn"), "{f}");
        keys.push(
            p["Code"]["S3Key"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        keys,
        [
            "dropcast-lambda-api.zip",
            "dropcast-lambda-events.zip",
            "dropcast-lambda-cleanup.zip",
            "dropcast-lambda-guard.zip"
        ]
    );
    // api: the HTTP API, every route.
    assert_eq!(
        r["HttpApiRouteDefault"]["Properties"]["RouteKey"],
        "$default"
    );
    // events: the three topics.
    let mut topics: Vec<Value> = of_type(&t, "AWS::SNS::Subscription")
        .into_iter()
        .filter(|(_, s)| s["Properties"]["Protocol"] == "lambda")
        .map(|(_, s)| {
            assert_eq!(
                s["Properties"]["Endpoint"],
                get_att("EventsLambdaFunction", "Arn")
            );
            s["Properties"]["TopicArn"].clone()
        })
        .collect();
    topics.sort_by_key(|v| v.to_string());
    assert_eq!(
        topics,
        vec![
            reference("DropCompletedTopic"),
            reference("DropCreatedTopic"),
            reference("DropDeletedTopic")
        ]
    );
    // Failures: two retries, then the dead-letter queue.
    let conf = &r["EventsLambdaEvConf"]["Properties"];
    assert_eq!(conf["MaximumRetryAttempts"], 2);
    assert_eq!(
        conf["DestinationConfig"]["OnFailure"]["Destination"],
        get_att("DeadLetterQueue", "Arn")
    );
    // The schedules, each with the job it names.
    let mut schedules: Vec<(String, Value, String)> = of_type(&t, "AWS::Events::Rule")
        .into_iter()
        .map(|(_, rule)| {
            let p = &rule["Properties"];
            let target = &p["Targets"][0];
            let input: Value = serde_json::from_str(target["Input"].as_str().unwrap()).unwrap();
            let function = target["Arn"]["Fn::GetAtt"][0].as_str().unwrap().to_string();
            let job = input.get("job").cloned().unwrap_or(json!(input["rawPath"]));
            (
                p["ScheduleExpression"].as_str().unwrap().to_string(),
                job,
                function,
            )
        })
        .collect();
    schedules.sort_by_key(|s| s.0.clone());
    assert_eq!(
        schedules,
        [
            (
                "cron(0 5 ? * MON *)",
                json!("sweep"),
                "CleanupLambdaFunction"
            ),
            ("rate(1 minute)", json!("release"), "GuardLambdaFunction"),
            ("rate(10 minutes)", json!("expire"), "CleanupLambdaFunction"),
            ("rate(5 minutes)", json!("/healthz"), "ApiLambdaFunction"),
        ]
        .map(|(rate, job, f)| (rate.to_string(), job, f.to_string()))
        .to_vec()
    );
    // guard: the API function's failed requests, once its log group exists.
    let (_, filter) = of_type(&t, "AWS::Logs::SubscriptionFilter")[0];
    assert_eq!(
        filter["Properties"]["DestinationArn"],
        get_att("GuardLambdaFunction", "Arn")
    );
    assert_eq!(
        filter["Properties"]["LogGroupName"],
        "/aws/lambda/dropcast-offline-api"
    );
    assert!(filter["DependsOn"]
        .as_array()
        .unwrap()
        .contains(&json!("ApiLogGroup")));
}

#[test]
fn the_bucket_is_private_and_encrypted_and_open_uploads_die_in_a_day() {
    let t = template();
    let p = &t["Resources"]["DropsBucket"]["Properties"];
    assert_eq!(
        p["LifecycleConfiguration"]["Rules"][0]["AbortIncompleteMultipartUpload"],
        json!({"DaysAfterInitiation": 1})
    );
    let cors = &p["CorsConfiguration"]["CorsRules"][0];
    assert!(cors["AllowedMethods"]
        .as_array()
        .unwrap()
        .contains(&json!("PUT")));
    for exposed in ["ETag", "x-amz-checksum-crc64nvme"] {
        assert!(
            cors["ExposedHeaders"]
                .as_array()
                .unwrap()
                .contains(&json!(exposed)),
            "{exposed}"
        );
    }
    let block = &p["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[k], true, "{k}");
    }
    assert_eq!(
        p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    // The database URL is a dynamic reference, resolved at deploy time.
    let env = &t["Resources"]["ApiLambdaFunction"]["Properties"]["Environment"]["Variables"];
    assert!(env["DROPCAST_DATABASE_URL"]
        .as_str()
        .unwrap()
        .starts_with("{{resolve:secretsmanager:dropcast/offline/database"));
}

#[test]
fn cloudfront_sits_behind_the_waf_with_the_managed_rules_a_rate_rule_and_the_guards_ip_set() {
    let t = template();
    let r = &t["Resources"];
    let acl = &r["WebAcl"]["Properties"];
    assert_eq!(acl["Scope"], "CLOUDFRONT");
    let rules = acl["Rules"].as_array().unwrap();
    let groups: Vec<&str> = rules
        .iter()
        .filter_map(|rule| rule["Statement"]["ManagedRuleGroupStatement"]["Name"].as_str())
        .collect();
    for g in [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ] {
        assert!(groups.contains(&g), "{g} in {groups:?}");
    }
    assert!(rules
        .iter()
        .any(|rule| rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"));
    let blocked = rules
        .iter()
        .find(|rule| rule["Statement"]["OrStatement"].is_object())
        .expect("a rule on the guard's IP sets");
    let sets: Vec<&Value> = blocked["Statement"]["OrStatement"]["Statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["IPSetReferenceStatement"]["Arn"])
        .collect();
    assert_eq!(
        sets,
        [
            &get_att("GuardIpSet", "Arn"),
            &get_att("GuardIpSetV6", "Arn")
        ]
    );
    assert!(blocked["Action"]["Block"].is_object());
    let guard_env = &r["GuardLambdaFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        guard_env["DROPCAST_GUARD_IP_SET_ARN"],
        get_att("GuardIpSet", "Arn")
    );

    let d = &r["ApiDistribution"]["Properties"]["DistributionConfig"];
    assert_eq!(d["WebACLId"], get_att("WebAcl", "Arn"));
    assert_eq!(
        d["Logging"]["Bucket"],
        get_att("LogsBucket", "RegionalDomainName")
    );
    // The API is never cached; assets and thumbnails are.
    assert_eq!(
        d["DefaultCacheBehavior"]["CachePolicyId"],
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    let patterns: Vec<&str> = d["CacheBehaviors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["PathPattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns, ["/assets/*", "/*/thumb.png"]);
    // Every behavior hands the API the viewer's address (and cookies), and
    // the origin the secret that makes the address believable.
    for b in
        std::iter::once(&d["DefaultCacheBehavior"]).chain(d["CacheBehaviors"].as_array().unwrap())
    {
        assert_eq!(
            b["FunctionAssociations"][0]["FunctionARN"],
            get_att("ClientIpFunction", "FunctionMetadata.FunctionARN")
        );
        // Managed-AllViewerExceptHostHeader: the address and cookies go on.
        assert_eq!(
            b["OriginRequestPolicyId"],
            "b689b0a8-53d0-40ab-baf2-68738e2966ac"
        );
    }
    assert_eq!(
        d["Origins"][0]["OriginCustomHeaders"][0]["HeaderName"],
        "x-dropcast-edge-secret"
    );
}

#[test]
fn drops_bytes_have_an_origin_of_their_own_that_answers_signed_urls_with_inert_headers() {
    let t = template();
    let r = &t["Resources"];
    let d = &r["RawDistribution"]["Properties"]["DistributionConfig"];
    // The bucket, reached through origin access control only.
    let origin = &d["Origins"][0];
    assert_eq!(
        origin["DomainName"],
        get_att("DropsBucket", "RegionalDomainName")
    );
    assert_eq!(
        origin["OriginAccessControlId"],
        get_att("RawOriginAccessControl", "Id")
    );
    let oac = &r["RawOriginAccessControl"]["Properties"]["OriginAccessControlConfig"];
    assert_eq!(oac["SigningBehavior"], "always");
    assert_eq!(oac["OriginAccessControlOriginType"], "s3");
    let read = r["DropsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Principal"]["Service"] == "cloudfront.amazonaws.com")
        .expect("the bucket lets the raw distribution read")
        .clone();
    assert_eq!(read["Effect"], "Allow");
    assert_eq!(read["Action"], "s3:GetObject");
    assert!(read["Resource"].to_string().contains("/drops/*"), "{read}");
    assert!(
        read["Condition"]["StringEquals"]["AWS:SourceArn"]
            .to_string()
            .contains("{\"Ref\":\"RawDistribution\"}"),
        "{read}"
    );
    // Only URLs the API signed, with the key the API holds.
    let behavior = &d["DefaultCacheBehavior"];
    assert_eq!(
        behavior["TrustedKeyGroups"],
        json!([reference("RawKeyGroup")])
    );
    assert_eq!(behavior["ViewerProtocolPolicy"], "https-only");
    assert_eq!(behavior["AllowedMethods"], json!(["GET", "HEAD"]));
    assert_eq!(
        r["RawKeyGroup"]["Properties"]["KeyGroupConfig"]["Items"],
        json!([reference("RawPublicKey")])
    );
    let public = r["RawPublicKey"]["Properties"]["PublicKeyConfig"]["EncodedKey"]
        .as_str()
        .unwrap();
    assert!(
        public.starts_with(
            "{{resolve:secretsmanager:dropcast/offline/raw-signing-key:SecretString:public_key}}"
        ),
        "{public}"
    );
    let env = &r["ApiLambdaFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["DROPCAST_RAW_CDN_KEY_ID"], reference("RawPublicKey"));
    assert!(env["DROPCAST_RAW_CDN_PRIVATE_KEY"]
        .as_str()
        .unwrap()
        .starts_with(
            "{{resolve:secretsmanager:dropcast/offline/raw-signing-key:SecretString:private_key}}"
        ));
    assert!(env["DROPCAST_RAW_CDN_URL"]
        .to_string()
        .contains("RawDistribution"));
    // Only the API function signs download links.
    for f in ["Events", "Cleanup", "Guard"] {
        let env = &r[format!("{f}LambdaFunction")]["Properties"]["Environment"]["Variables"];
        assert!(env["DROPCAST_RAW_CDN_PRIVATE_KEY"].is_null(), "{f}");
    }
    // The cache key is the object and the type and disposition the API
    // chose: never the signature, so one cached copy serves every link.
    let cache = &r["RawCachePolicy"]["Properties"]["CachePolicyConfig"]
        ["ParametersInCacheKeyAndForwardedToOrigin"];
    assert_eq!(
        cache["QueryStringsConfig"],
        json!({"QueryStringBehavior": "whitelist",
               "QueryStrings": ["response-content-type", "response-content-disposition"]})
    );
    assert_eq!(cache["CookiesConfig"]["CookieBehavior"], "none");
    // The headers the embedded server sends with raw bytes.
    assert_eq!(
        behavior["ResponseHeadersPolicyId"],
        reference("RawHeadersPolicy")
    );
    let h = &r["RawHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"];
    let security = &h["SecurityHeadersConfig"];
    assert_eq!(security["ContentTypeOptions"]["Override"], true);
    assert_eq!(
        security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        dropcast_server::sniff::RAW_CSP
    );
    assert_eq!(security["ContentSecurityPolicy"]["Override"], true);
    let corp = &h["CustomHeadersConfig"]["Items"][0];
    assert_eq!(corp["Header"], "Cross-Origin-Resource-Policy");
    assert_eq!(
        corp["Value"],
        json!({"Fn::If": ["HasRawDomain", "same-site", "cross-origin"]})
    );
    // Behind the same WAF as the API, logged beside it.
    assert_eq!(d["WebACLId"], get_att("WebAcl", "Arn"));
    assert_eq!(d["Logging"]["Prefix"], "cloudfront-raw/");
}

#[test]
fn each_functions_error_ratio_over_half_and_dead_letters_raise_alarms() {
    let t = template();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    for f in FUNCTIONS {
        let (_, alarm) = alarms
            .iter()
            .find(|(name, _)| **name == format!("{f}ErrorRatioAlarm"))
            .unwrap_or_else(|| panic!("no error ratio alarm for {f}"));
        let p = &alarm["Properties"];
        assert_eq!(p["Threshold"], 50, "{f}");
        assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
        assert_eq!(p["AlarmActions"], json!([reference("AlarmTopic")]));
        let metrics = p["Metrics"].as_array().unwrap();
        let by_id = |id: &str| metrics.iter().find(|m| m["Id"] == id).unwrap();
        for (id, metric) in [("errors", "Errors"), ("invocations", "Invocations")] {
            let stat = &by_id(id)["MetricStat"];
            assert_eq!(stat["Metric"]["MetricName"], metric);
            assert_eq!(stat["Period"], 300);
            assert_eq!(
                stat["Metric"]["Dimensions"][0]["Value"],
                reference(&format!("{f}LambdaFunction"))
            );
        }
        assert_eq!(
            by_id("ratio")["Expression"],
            "IF(invocations > 0, 100 * errors / invocations, 0)"
        );
        assert_eq!(by_id("ratio")["ReturnData"], true);
    }
    let (_, api5xx) = alarms
        .iter()
        .find(|(n, _)| *n == "Api5xxRatioAlarm")
        .unwrap();
    assert!(api5xx["Properties"]["Metrics"][2]["Expression"]
        .as_str()
        .unwrap()
        .contains("errors / requests"));
    let (_, dlq) = alarms
        .iter()
        .find(|(n, _)| *n == "DeadLettersAlarm")
        .unwrap();
    assert_eq!(
        dlq["Properties"]["MetricName"],
        "ApproximateNumberOfMessagesVisible"
    );
    assert_eq!(dlq["Properties"]["Threshold"], 0);
}

#[test]
fn each_role_grants_its_function_only_what_it_uses_on_named_resources() {
    let t = template();
    let r = &t["Resources"];
    let statements = |role: &str| -> Vec<Value> {
        r[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone()
    };
    let actions = |role: &str| -> Vec<String> {
        let mut all: Vec<String> = statements(role)
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        all.sort();
        all
    };
    for f in FUNCTIONS {
        for s in statements(&format!("{f}Role")) {
            let resources = match &s["Resource"] {
                Value::Array(a) => a.clone(),
                one => vec![one.clone()],
            };
            for res in resources {
                assert_ne!(res, json!("*"), "{f}: {s}");
                // A wildcard only where the names are made at run time:
                // the bucket's objects, and the function's own log streams.
                let text = res.to_string();
                let own_streams = format!("dropcast-offline-{}:*", f.to_lowercase());
                let rest = text.replace("\"/*\"", "").replace(&own_streams, "");
                assert!(!rest.contains('*'), "{f}: {text}");
            }
        }
    }
    assert!(actions("GuardRole")
        .iter()
        .all(|a| a.starts_with("logs:") || a.starts_with("wafv2:")));
    assert!(!actions("EventsRole").contains(&"s3:DeleteObject".to_string()));
    assert!(!actions("ApiRole").iter().any(|a| a.starts_with("wafv2:")));
    let publishes = |role: &str| {
        statements(role)
            .into_iter()
            .find(|s| s["Action"] == json!(["sns:Publish"]))
            .map(|s| s["Resource"].clone())
    };
    let topics = json!([
        reference("DropCreatedTopic"),
        reference("DropCompletedTopic"),
        reference("DropDeletedTopic")
    ]);
    assert_eq!(publishes("ApiRole"), Some(topics.clone()));
    assert_eq!(publishes("CleanupRole"), Some(topics));
    assert_eq!(publishes("EventsRole"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keep_warm_schedule_is_a_health_check_the_api_function_answers() {
    let t = tokio::task::block_in_place(template);
    let (_, rule) = of_type(&t, "AWS::Events::Rule")
        .into_iter()
        .find(|(_, rule)| rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)")
        .unwrap();
    let input: Value =
        serde_json::from_str(rule["Properties"]["Targets"][0]["Input"].as_str().unwrap()).unwrap();
    let st = tokio::task::block_in_place(|| {
        AwsLocal::start(Path::new(env!("CARGO_BIN_EXE_dropcast-lambda-api")), &[])
    });
    let answer =
        tokio::task::block_in_place(|| st.api.invoke("dropcast-lambda-api", &input)).unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "ok", "{body}");
}
