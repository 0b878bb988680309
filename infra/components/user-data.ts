/**
 * Boot scripts for the EC2 hosts (Amazon Linux 2023). They carry no
 * secrets: passwords and API keys are read from Secrets Manager at boot by
 * the instance role. Checked with shellcheck and run against stubbed
 * commands in test/infra/user-data.test.ts.
 */

/** Paths the script touches; tests point them into a temporary directory. */
export interface HostPaths {
  /** The data volume, from the instance's block device mapping (AL2023's udev rules link it). */
  device: string;
  mountPoint: string;
  fstab: string;
  /** tmpfs: env files holding secrets never reach a disk. */
  runDir: string;
}

export const HOST_PATHS: HostPaths = { device: '/dev/sdf', mountPoint: '/data', fstab: '/etc/fstab', runDir: '/run/tickvault' };

/** Single-quote for the shell (values from config; never secrets). */
export const shq = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

export interface ContainerHost {
  region: string;
  /** CloudWatch log group the container's output ships to. */
  logGroup: string;
  /** Secrets Manager ARN read at boot into the container's env file as `envName`. */
  secretArn: string;
  secretEnvName: string;
  /** uid:gid the image runs as: it must own its data directory. */
  owner: string;
  dataDir: string;
}

function prelude(host: ContainerHost, paths: HostPaths): string {
  return `#!/bin/bash
# tickvault host bootstrap: data volume by UUID, Docker, secrets from Secrets Manager.
set -euo pipefail
umask 077

device=${shq(paths.device)}
mount_point=${shq(paths.mountPoint)}
fstab=${shq(paths.fstab)}
run_dir=${shq(paths.runDir)}
region=${shq(host.region)}

# The volume is in the block device mapping, so it exists before this runs; wait for udev's link.
udevadm settle
if ! blkid "$device" >/dev/null 2>&1; then
  mkfs.ext4 -q -L tickvault-data "$device"
fi
uuid=$(blkid -s UUID -o value "$device")
[ -n "$uuid" ] || { echo "no filesystem UUID on $device" >&2; exit 1; }
mkdir -p "$mount_point"
# Mounted by UUID: NVMe device names change between boots.
if ! grep -q "^UUID=$uuid " "$fstab"; then
  echo "UUID=$uuid $mount_point ext4 defaults,nofail 0 2" >> "$fstab"
fi
mountpoint -q "$mount_point" || mount "$mount_point"

dnf install -y docker
systemctl enable --now docker

data_dir="$mount_point/"${shq(host.dataDir)}
mkdir -p "$data_dir"
chown -R ${shq(host.owner)} "$data_dir"

mkdir -p "$run_dir"
secret=$(aws secretsmanager get-secret-value --region "$region" --secret-id ${shq(host.secretArn)} --query SecretString --output text)
printf '%s=%s\\n' ${shq(host.secretEnvName)} "$secret" > "$run_dir/container.env"
unset secret
logging=(--log-driver awslogs --log-opt awslogs-region="$region" --log-opt awslogs-group=${shq(host.logGroup)})
`;
}

export interface TimescaleHost extends ContainerHost {
  image: string;
  bucket: string;
  stanza: string;
  retentionFullDays: number;
}

/** timescaledb-ha: WAL archived through pgBackRest, TLS on, the tickvault database, stanza created and checked. */
export function timescaleUserData(host: TimescaleHost, paths: HostPaths = HOST_PATHS): string {
  return `${prelude(host, paths)}
tls_dir="$data_dir/tls"
if [ ! -f "$tls_dir/server.key" ]; then
  mkdir -p "$tls_dir"
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=tickvault-timescaledb" -keyout "$tls_dir/server.key" -out "$tls_dir/server.crt"
  chmod 600 "$tls_dir/server.key"
  chown -R ${shq(host.owner)} "$tls_dir"
fi

cat >> "$run_dir/container.env" <<EOF
POSTGRES_DB=tickvault
PGBACKREST_STANZA=${host.stanza}
PGBACKREST_PG1_PATH=/home/postgres/pgdata/data
PGBACKREST_REPO1_TYPE=s3
PGBACKREST_REPO1_PATH=/pgbackrest
PGBACKREST_REPO1_S3_BUCKET=${host.bucket}
PGBACKREST_REPO1_S3_ENDPOINT=s3.${host.region}.amazonaws.com
PGBACKREST_REPO1_S3_REGION=${host.region}
PGBACKREST_REPO1_S3_KEY_TYPE=auto
PGBACKREST_REPO1_RETENTION_FULL_TYPE=time
PGBACKREST_REPO1_RETENTION_FULL=${host.retentionFullDays}
PGBACKREST_ARCHIVE_COPY=y
EOF

if ! docker container inspect timescaledb >/dev/null 2>&1; then
  docker run -d --name timescaledb --restart unless-stopped "\${logging[@]}" \\
    --env-file "$run_dir/container.env" \\
    -p 5432:5432 -v "$data_dir:/home/postgres/pgdata" ${shq(host.image)} \\
    postgres -c archive_mode=on -c "archive_command=pgbackrest --stanza=${host.stanza} archive-push %p" \\
    -c ssl=on -c ssl_cert_file=/home/postgres/pgdata/tls/server.crt -c ssl_key_file=/home/postgres/pgdata/tls/server.key
fi
rm -f "$run_dir/container.env"

# Over TCP: the entrypoint's temporary init server listens on the socket only.
ready=0
for _ in $(seq 1 120); do
  if docker exec timescaledb pg_isready -h 127.0.0.1 -d tickvault >/dev/null 2>&1; then ready=1; break; fi
  sleep 2
done
[ "$ready" = 1 ] || { echo "PostgreSQL did not become ready" >&2; exit 1; }

docker exec timescaledb pgbackrest --stanza=${host.stanza} stanza-create
docker exec timescaledb pgbackrest --stanza=${host.stanza} check
`;
}

export interface QdrantHost extends ContainerHost {
  image: string;
}

/** Qdrant with an API key, listening on the instance's private address only. */
export function qdrantUserData(host: QdrantHost, paths: HostPaths = HOST_PATHS): string {
  return `${prelude(host, paths)}
token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
private_ip=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/local-ipv4)
[ -n "$private_ip" ] || { echo "no private address from IMDS" >&2; exit 1; }

if ! docker container inspect qdrant >/dev/null 2>&1; then
  docker run -d --name qdrant --restart unless-stopped "\${logging[@]}" \\
    --env-file "$run_dir/container.env" \\
    -p "$private_ip:6333:6333" -v "$data_dir/storage:/qdrant/storage" -v "$data_dir/snapshots:/qdrant/snapshots" ${shq(host.image)}
fi
rm -f "$run_dir/container.env"
`;
}
