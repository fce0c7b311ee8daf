//! Building the DynamoDB client: the same code in Lambdas, the CLI and tests. The endpoint
//! comes from the standard AWS configuration (`AWS_ENDPOINT_URL` points it at moto locally).

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;

use crate::RequestCounter;

pub fn dynamodb_client(sdk: &SdkConfig, counter: Option<RequestCounter>) -> Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(counter) = counter {
        config = config.interceptor(counter);
    }
    Client::from_conf(config.build())
}
