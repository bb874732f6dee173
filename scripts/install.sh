#!/usr/bin/env bash
# Install s3pipe under DEST (make install passes $(DESTDIR)$(PREFIX); the
# Dockerfile passes /out/usr/local): the multicall binary bin/s3pipe with
# the seven tools as links to it (one copy of the AWS SDK instead of five),
# man pages and bash/zsh/fish completions made by examples/gen_docs.rs, and
# the job's scripts in share/s3pipe/scripts.
# Usage: scripts/install.sh DEST S3PIPE_BINARY DOCS_DIR
set -euo pipefail
dest=$1 binary=$2 docs=$3
here=$(cd "$(dirname "$0")" && pwd)
tools=(pack unpack s3put s3get s3ls s3rm s3prune)
install -d "$dest/bin" "$dest/share/man/man1" \
  "$dest/share/bash-completion/completions" "$dest/share/zsh/site-functions" \
  "$dest/share/fish/vendor_completions.d" "$dest/share/s3pipe/scripts"
install -m 755 "$binary" "$dest/bin/s3pipe"
for t in "${tools[@]}"; do
  ln -sfn s3pipe "$dest/bin/$t"
  install -m 644 "$docs/man/man1/$t.1" "$dest/share/man/man1/$t.1"
  install -m 644 "$docs/completions/bash/$t.bash" "$dest/share/bash-completion/completions/$t"
  install -m 644 "$docs/completions/zsh/_$t" "$dest/share/zsh/site-functions/_$t"
  install -m 644 "$docs/completions/fish/$t.fish" "$dest/share/fish/vendor_completions.d/$t.fish"
done
install -m 755 "$here/backup.sh" "$here/restore.sh" "$here/entrypoint.sh" "$here/lib.sh" "$here/report.sh" \
  "$dest/share/s3pipe/scripts/"
