#!/bin/sh
# transport_keys_cli.sh - `cairn keys` end to end: a federation, a member's
# keys, certificate and enrolment; `show` hides secrets; unsafe key files,
# bad arguments and duplicate members are refused with one-line errors.
set -u
: "${CAIRN_BIN:?}"
T=$(mktemp -d /tmp/cairn-keys-XXXXXX)
trap 'rm -rf "$T"' EXIT
C="$CAIRN_BIN/cairn"
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$T/out"; }
yes_() { d=$1; shift; if "$@" >"$T/out" 2>&1; then ok "$d"; else notok "$d"; fi; }
no_() { # description expected-stderr-text command...
	d=$1; want=$2; shift 2
	if "$@" >"$T/out" 2>&1; then notok "$d (succeeded)";
	elif grep -q -- "$want" "$T/out" && [ "$(wc -l <"$T/out")" -eq 1 ]; then ok "$d";
	else notok "$d"; fi
}
has() { d=$1; pat=$2; if grep -q -- "$pat" "$T/out"; then ok "$d"; else notok "$d"; fi; }

yes_ "keys --help" "$C" keys --help
has "help lists init-federation" "init-federation"
yes_ "init-federation" "$C" keys init-federation --name demo --dir "$T/fed"
yes_ "new node" "$C" keys new --role node --name alpha --dir "$T/alpha"
perm=$(stat -c %a "$T/alpha/identity.key")
[ "$perm" = 600 ] && ok "identity.key is 0600" || notok "identity.key is 0600 (is $perm)"
perm=$(stat -c %a "$T/alpha/tls.key")
[ "$perm" = 600 ] && ok "tls.key is 0600" || notok "tls.key is 0600 (is $perm)"
yes_ "issue" "$C" keys issue --ca "$T/fed" --csr "$T/alpha/tls.csr" --out "$T/alpha/tls.crt"
yes_ "add-member" "$C" keys add-member --ca "$T/fed" --pub "$T/alpha/identity.pub" --cert "$T/alpha/tls.crt"
grep -q '^member = node alpha ' "$T/fed/federation.conf" && ok "federation.conf lists alpha" ||
	{ cp "$T/fed/federation.conf" "$T/out"; notok "federation.conf lists alpha"; }
no_ "add-member twice is refused" "listed already" "$C" keys add-member --ca "$T/fed" \
    --pub "$T/alpha/identity.pub" --cert "$T/alpha/tls.crt"
yes_ "show identity.key" "$C" keys show "$T/alpha/identity.key"
has "show hides the secret" "secret: (hidden)"
has "show gives the role" "role: node"
if grep -q "$(sed -n 's/^seed //p' "$T/alpha/identity.key")" "$T/out"; then notok "seed never printed"; else ok "seed never printed"; fi
yes_ "show tls.crt" "$C" keys show "$T/alpha/tls.crt"
has "certificate carries the URI SAN" "URI:cairn://node/alpha"
yes_ "show tls.key" "$C" keys show "$T/alpha/tls.key"
has "TLS key hidden" "private key: (hidden)"
chmod 644 "$T/alpha/identity.key"
no_ "a 0644 identity key is refused" "mode 0644" "$C" keys show "$T/alpha/identity.key"
ln -s "$T/alpha/tls.key" "$T/link.key"
no_ "a symlinked key is refused" "symbolic link" "$C" keys show "$T/link.key"
no_ "unknown role" "unknown role 'boss'" "$C" keys new --role boss --name x --dir "$T/x"
no_ "bad name" "invalid name" "$C" keys new --role node --name "Bad/Name" --dir "$T/x"
no_ "missing --dir" "--dir is required" "$C" keys new --role node --name x
no_ "existing keys are not overwritten" "exists already" "$C" keys new --role node --name alpha --dir "$T/alpha"
no_ "bad --days" "--days" "$C" keys issue --ca "$T/fed" --csr "$T/alpha/tls.csr" --out "$T/x.crt" --days 0
echo junk >"$T/junk.csr"
no_ "junk CSR" "not a PEM CSR" "$C" keys issue --ca "$T/fed" --csr "$T/junk.csr" --out "$T/x.crt"
"$C" keys init-federation --name other --dir "$T/other" >/dev/null 2>&1
"$C" keys new --role node --name beta --dir "$T/beta" >/dev/null 2>&1
"$C" keys issue --ca "$T/other" --csr "$T/beta/tls.csr" --out "$T/beta/tls.crt" >/dev/null 2>&1
no_ "a certificate of another CA cannot be enrolled" "does not chain" "$C" keys add-member \
    --ca "$T/fed" --pub "$T/beta/identity.pub" --cert "$T/beta/tls.crt"
no_ "pub and cert must name the same member" "is for node/alpha" "$C" keys add-member \
    --ca "$T/fed" --pub "$T/beta/identity.pub" --cert "$T/alpha/tls.crt"
[ "$fails" -eq 0 ]
