"""AWS's fastest client as a peer: the CRT (awscrt) through s3transfer's
CRT transfer manager, streaming stdin to an object and an object to
stdout, the way `aws s3 cp - s3://…` would with the CRT.

    crt_cp.py put BUCKET KEY < stream
    crt_cp.py get BUCKET KEY > stream

Endpoint, region and keys come from AWS_ENDPOINT_URL, AWS_REGION and
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. The CRT picks its own
concurrency from a throughput target (its default, 10 Gb/s, when it cannot
learn the machine's), as the AWS CLI v2 does.
"""

import os
import sys

import botocore.config
import botocore.session
from s3transfer.crt import (
    BotocoreCRTCredentialsWrapper,
    BotocoreCRTRequestSerializer,
    CRTTransferManager,
    create_s3_crt_client,
)


def main():
    op, bucket, key = sys.argv[1:4]
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    region = os.environ.get("AWS_REGION", "us-east-1")
    session = botocore.session.get_session()
    credentials = BotocoreCRTCredentialsWrapper(session.get_credentials())
    client = create_s3_crt_client(
        region,
        crt_credentials_provider=credentials.to_crt_credentials_provider(),
        use_ssl=endpoint.startswith("https://"),
    )
    serializer = BotocoreCRTRequestSerializer(
        session,
        client_kwargs={
            "region_name": region,
            "endpoint_url": endpoint,
            "config": botocore.config.Config(s3={"addressing_style": "path"}),
        },
    )
    with CRTTransferManager(client, serializer) as manager:
        if op == "put":
            future = manager.upload(sys.stdin.buffer, bucket, key)
        else:
            future = manager.download(bucket, key, sys.stdout.buffer)
        future.result()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
