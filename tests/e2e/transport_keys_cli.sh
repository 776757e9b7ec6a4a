#!/bin/sh
# transport_keys_cli.sh - `cairn keys` end to end: a federation, a member's
# keys, certificate and enrolment; `show` hides secrets; unsafe key files,
# bad arguments and duplicate members are refused with one-line errors.
set -u
: "${CAIRN_BIN:?}"
T=$(mktemp -d /tmp/cairn-keys-XXXXXX)
trap 'rm -rf "$T"' EXIT
C="$CAIRN_BIN/cairn"
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"

check "keys --help" "$C" keys --help
has "help lists init-federation" "init-federation"
check "init-federation" "$C" keys init-federation --name demo --dir "$T/fed"
check "new node" "$C" keys new --role node --name alpha --dir "$T/alpha"
perm=$(stat -c %a "$T/alpha/identity.key")
[ "$perm" = 600 ] && ok "identity.key is 0600" || notok "identity.key is 0600 (is $perm)"
perm=$(stat -c %a "$T/alpha/tls.key")
[ "$perm" = 600 ] && ok "tls.key is 0600" || notok "tls.key is 0600 (is $perm)"
check "issue" "$C" keys issue --ca "$T/fed" --csr "$T/alpha/tls.csr" --out "$T/alpha/tls.crt"
check "add-member" "$C" keys add-member --ca "$T/fed" --pub "$T/alpha/identity.pub" --cert "$T/alpha/tls.crt"
grep -q '^member = node alpha ' "$T/fed/federation.conf" && ok "federation.conf lists alpha" ||
	{ cp "$T/fed/federation.conf" "$T/out"; notok "federation.conf lists alpha"; }
fails_one_line "add-member twice is refused" "listed already" "$C" keys add-member --ca "$T/fed" \
    --pub "$T/alpha/identity.pub" --cert "$T/alpha/tls.crt"
check "show identity.key" "$C" keys show "$T/alpha/identity.key"
has "show hides the secret" "secret: (hidden)"
has "show gives the role" "role: node"
if grep -q "$(sed -n 's/^seed //p' "$T/alpha/identity.key")" "$T/out"; then notok "seed never printed"; else ok "seed never printed"; fi
check "show tls.crt" "$C" keys show "$T/alpha/tls.crt"
has "certificate carries the URI SAN" "URI:cairn://node/alpha"
check "show tls.key" "$C" keys show "$T/alpha/tls.key"
has "TLS key hidden" "private key: (hidden)"
chmod 644 "$T/alpha/identity.key"
fails_one_line "a 0644 identity key is refused" "mode 0644" "$C" keys show "$T/alpha/identity.key"
ln -s "$T/alpha/tls.key" "$T/link.key"
fails_one_line "a symlinked key is refused" "symbolic link" "$C" keys show "$T/link.key"
fails_one_line "unknown role" "unknown role 'boss'" "$C" keys new --role boss --name x --dir "$T/x"
fails_one_line "bad name" "invalid name" "$C" keys new --role node --name "Bad/Name" --dir "$T/x"
fails_one_line "missing --dir" "--dir is required" "$C" keys new --role node --name x
fails_one_line "existing keys are not overwritten" "exists already" "$C" keys new --role node --name alpha --dir "$T/alpha"
fails_one_line "bad --days" "--days" "$C" keys issue --ca "$T/fed" --csr "$T/alpha/tls.csr" --out "$T/x.crt" --days 0
echo junk >"$T/junk.csr"
fails_one_line "junk CSR" "not a PEM CSR" "$C" keys issue --ca "$T/fed" --csr "$T/junk.csr" --out "$T/x.crt"
"$C" keys init-federation --name other --dir "$T/other" >/dev/null 2>&1
"$C" keys new --role node --name beta --dir "$T/beta" >/dev/null 2>&1
"$C" keys issue --ca "$T/other" --csr "$T/beta/tls.csr" --out "$T/beta/tls.crt" >/dev/null 2>&1
fails_one_line "a certificate of another CA cannot be enrolled" "does not chain" "$C" keys add-member \
    --ca "$T/fed" --pub "$T/beta/identity.pub" --cert "$T/beta/tls.crt"
fails_one_line "pub and cert must name the same member" "is for node/alpha" "$C" keys add-member \
    --ca "$T/fed" --pub "$T/beta/identity.pub" --cert "$T/alpha/tls.crt"
[ "$fails" -eq 0 ]
