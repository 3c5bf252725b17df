"""The real-AWS path: `appspec push` and `appspec aws deploy` through boto3.

boto3 is imported only inside these modules, and these modules only when such a command runs, so
`appspec lint` never loads it. Credentials, region and profile are resolved by boto3 itself, and so is
the endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, ...), which is how the tests reach moto.
"""
