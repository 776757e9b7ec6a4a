#!/bin/sh
# audit_cli.sh - `cairn audit` on exported data: the four primitives on the
# RFC 6962 tree of 8, the real CT Argon 2020 proofs and a signed, cosigned
# checkpoint (tests/vectors/cairn_checkpoint.note), with every failure
# exit checked (exit 1, one line on stderr naming the reason).
set -u
CAIRN="${CAIRN_BIN:-build/bin}/cairn"
TOP="${CAIRN_TOP:-.}"
V="$TOP/tests/vectors"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "${CAIRN_TOP:-.}/tests/e2e/lib/tap.sh"

# expect_ok DESC WANT_STDOUT CMD...: exit 0 and exactly WANT_STDOUT
expect_ok() {
	desc=$1
	want=$2
	shift 2
	out=$("$@" 2>"$T/err")
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$out" = "$want" ] && [ ! -s "$T/err" ]; then
		ok "$desc"
	else
		notok "$desc (rc=$rc out='$out' err='$(cat "$T/err")')"
	fi
}

# expect_fail DESC NEEDLE CMD...: exit 1, nothing on stdout, one stderr
# line of the form "cairn audit X: error: ..." containing NEEDLE
expect_fail() { _d=$1; _w=$2; shift 2; fails_cleanly "$_d" "cairn audit [a-z-]*" "$_w" "$@"; }

ROOT8=5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
ROOT6=76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# tree-root
printf '\n00\n10\n2021\n3031\n40414243\n5051525354555657\n606162636465666768696a6b6c6d6e6f\n' >"$T/leaves8"
expect_ok "tree-root of the RFC 6962 tree of 8" "$ROOT8" \
	"$CAIRN" audit tree-root --leaves "$T/leaves8"
head -n 6 "$T/leaves8" >"$T/leaves6"
expect_ok "tree-root of its first 6 leaves" "$ROOT6" \
	"$CAIRN" audit tree-root --leaves "$T/leaves6"
expect_ok "tree-root from standard input" "$ROOT8" \
	sh -c "\"$CAIRN\" audit tree-root --leaves - <\"$T/leaves8\""
: >"$T/none"
expect_ok "tree-root of no leaves is the empty root" "$EMPTY" \
	"$CAIRN" audit tree-root --leaves "$T/none"
printf '\n' >"$T/one"
expect_ok "an empty line is an empty leaf" \
	6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d \
	"$CAIRN" audit tree-root --leaves "$T/one"
printf '00\nzz\n' >"$T/bad"
expect_fail "tree-root names the bad line" "$T/bad:2" \
	"$CAIRN" audit tree-root --leaves "$T/bad"
printf '\n00\n10\n2021\n3031\n40414243\n5051525354555657\n606162636465666768696a6b6c6d6e6f' >"$T/nonl"
expect_ok "a last line without newline is a leaf" "$ROOT8" \
	"$CAIRN" audit tree-root --leaves "$T/nonl"
head -c 2097154 /dev/zero | tr '\0' 0 >"$T/long"
expect_fail "tree-root refuses an overlong leaf" "$T/long:1: leaf over" \
	"$CAIRN" audit tree-root --leaves "$T/long"
printf '00\n123\n' >"$T/odd"
expect_fail "tree-root refuses odd hex" "odd number" \
	"$CAIRN" audit tree-root --leaves "$T/odd"
expect_fail "tree-root on a missing file" "$T/missing" \
	"$CAIRN" audit tree-root --leaves "$T/missing"

# inclusion-verify on the tree of 8 (leaf 5) and the Argon 2020 log
L5=4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658
P5=bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b,ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0,d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
expect_ok "inclusion of leaf 5 of 8" ok "$CAIRN" audit inclusion-verify \
	--leaf-hash $L5 --index 5 --size 8 --root $ROOT8 --proof $P5
expect_fail "inclusion at the wrong index" "does not verify" \
	"$CAIRN" audit inclusion-verify --leaf-hash $L5 --index 4 --size 8 \
	--root $ROOT8 --proof $P5
expect_fail "inclusion against the wrong root" "computed root" \
	"$CAIRN" audit inclusion-verify --leaf-hash $L5 --index 5 --size 8 \
	--root $ROOT6 --proof $P5
expect_fail "inclusion with a truncated proof" "fewer" \
	"$CAIRN" audit inclusion-verify --leaf-hash $L5 --index 5 --size 8 \
	--root $ROOT8 --proof "${P5%,*}"
expect_fail "inclusion with a short leaf hash" "not 32" \
	"$CAIRN" audit inclusion-verify --leaf-hash abcd --index 5 --size 8 \
	--root $ROOT8 --proof $P5
expect_ok "leaf 0 of a tree of 1, empty proof" ok \
	"$CAIRN" audit inclusion-verify --leaf-hash $ROOT8 --index 0 \
	--size 1 --root $ROOT8 --proof ""
expect_fail "index beyond the tree" "not below" \
	"$CAIRN" audit inclusion-verify --leaf-hash $ROOT8 --index 1 \
	--size 1 --root $ROOT8 --proof ""
expect_fail "index over 2^64-1" "over 2^64-1" \
	"$CAIRN" audit inclusion-verify --leaf-hash $ROOT8 \
	--index 18446744073709551616 --size 1 --root $ROOT8 --proof ""
expect_fail "non-hex proof" "not hex" \
	"$CAIRN" audit inclusion-verify --leaf-hash $L5 --index 5 --size 8 \
	--root $ROOT8 --proof "${P5%,*},xx"
expect_fail "missing --proof" "usage" \
	"$CAIRN" audit inclusion-verify --leaf-hash $L5 --index 5 --size 8 \
	--root $ROOT8

ARGON_LEAF=9c2b3799f232761f71e022b243ebb6c6d9a9c66160800e4c2f2987c0d41294b8
ARGON_ROOT=77096e79aa5d77b2da3849d7d96d96a7dbf65c4f8acde8c7450187c04c74a1a3
ARGON_OLD=02e219e55eac0d48f5be7dd8d4af39a0e690ef2f852492adc914e5d5e7482814
ARGON_PATH=4f8e80989b2e38cfe01621a5529f8824979ba7ed59e6aadab45356ed4d09c8e4,f498f515ea1d9f8dae45811f7df915e0717f1083c5439668f48c24c5b436ba19,\
0f9dffd6808d79b178279f471e08a8a2f299c6b9ab29c56e095872dc8ce0f029,c121438064abb1744f03ed5cf161e80050ac59e52ff0d0f23ff43f4a0b325726,\
e75ebf45cc2c81dc1dcc79f5f2fd5d247a819201546cd86608858e1a3b0c25a1,9da4c56366a32c582b82ce57525fb32586679e5264b0b1ac035558c292dfa9b6,\
98a051268eaa6a8fb429d87fae11a46546c7500c4c86bb6b725ad3a486cd8c88,0a8e2e78e144ee5a627cb8a8f788abc71b2fd7014c31a2b7b4fbb665090796ba,\
c91832f34d0ae89318082d39b167ea17692f0a0dab893fe954cfa711ae95e7ed,9f63b7f172590bcfd6a5bc22f47860562ce55327941d566f632401d7ad3b3117,\
828ded023b8d7cd4828fcef2d91835c4eae80e49c637579a7f7720bf339b7fb4,f03d0c8f7fc9ef24929c56f469f207617bfaae53a11029ec79b63a5ca8b5211f,\
eab71ecf8e9953c339bcf89654c0147c97c0395d293cffe6721fe56336618ff3,dabb48797acfbd2754c8773999a220480541d81cda29aba95b14808956b20c4e,\
9e7896fc830540f379c70f14b07167ec2452b586e6d602eeecd35aea4911a894,9913cf8bbb104b6d8c76e204caf70dcc2345a88b7a90bc183e434aad5b4872ef,\
26f4e2bf3112352f701c8f1aa61e5aeee89e566b52fe9f4f722319e43e86c8ea,513c9077e626d30638cc6faa2bcd3a6c1391c22d42495bc543f2a49e7aa8663f,\
857383aea37e7dff94eb33ea450f9940ab3a8a6d5f3dcc487ab0d27cdc1f9611,208e8613e598fc3ae96737c7ced2f0911e3aa37ef356434b0b23d895febccc0d,\
77ad3d91659c3419656c0f096ff69de170155469d270b466b4ff05632afe0dc9,ae2901b0fd06d208a85d1a411440f60b341d48bac63ef45dd1b11c6c4670d6b2,\
19720495f9a746e59f6c0e33eee6d5fd4c25a524546d479e73ba0be470c39e1d,a51d121ff3583fab3dfbc6b35b069e51703865eff758222031f879616eb0bdc1,\
7f71ae00a615ac5f11060decd798ef03f62f57da009625adccffe29b03e14150,5879fccc3c65560915fa54a59b368e75f481ad31e846be674f777beaad0a2961,\
7f6b95d99c558142f32cf2ae65ca30458dd963b7d1957e7d88306357547c90d4,3734158c9b2f4306e2ed64ad32bf6816487d55b1df2bb2c1ea8ed6c00ab0353b,\
0b42edb417981d91e02fed37d8921c242dc24c1232cdafe1b1b98952025f9832,9e2c54e425931550e517804675c53a900ed6498bab1297bd8d159cf85ffbb0e7
ARGON_CONS=f3449f6e3e9440475549909222087d34c3e3def081cdc735038f01d9cac94968,15972b8001d493a9cd3ef88966af2410aea3086d5dd7ca49385138e590dcd534,\
43aeeb7965e63c1a3551f9b005aa785e2f4f30f7c5754492c3758695165d1bb9,789ec2ca14783f1cc1c4322c5a0ad5616d5e1546fd9dd81fe3ab459a2a95af10,\
42b0f0a74eb61ab9b9598f0a76b845b01bae3631b3468c7625bf0f9952f9398c,5cce1832330474b1ff5c96a6fd95b268fd78937726b0eb673ec396439e255b5b,\
48688187e8ce4c671c5d4e3c673810f3c9517019ad078c33e284839ddbf64138,5804bab71a8d2d82862f519d05da6a995e364d37e7e9c26cb83b2a2d7b9308d2,\
4059914b4ae2ad403b64dde5c458c39dc57e135382ae7dcd501e110a9fb97f37,1dd6e9ec8b765c135998d0c1a4237f28f77bbdf56ac60cf03a8b2a54868403d1,\
9b1bc72f46626e505d0fb8fba486b58e57c1d204aa7c9ea85f4506a3b2f456c5,ab9863cafa16e932ff3d3860722b690dc493ae7297da9d7e6aab1ca87d9eb910,\
8d33960eab772078f635515e7b3c81cf6a1fa6bbbeced132c2a29401f15c94a2,188467d30dc7a8976f53d8f55950fffde47a964d80693563cb38ec24d3fc53cf,\
c79d8626fc46f357e7401ae03936e5975039b73f79fcb5cad00835361074af52,ebfd0eaab71381cde8e5d0f93f29a6a02f7a941f722cf16e4c756f2f2f1f4869,\
19ffa228b7dc5cee65e091059ac66f49d1b9ab5b847963df60baddb3aa668f3d,0c6b9a728f8c73233701f45217aa97ed1c127adc1eda2798266c70e5ef6b571d,\
dad409f55df6867629f9f7693fa4dc8e680998b78d54e30a334325d6493870d5,dcf6a92be224c89afc23dc8012b026cee65ecf32cccec83e3df7910a0356f0d4,\
b3ac6261e7a36fec2da8703e511259d88fd208fc885bc7283fa681d341496cc6,cfd952a6675372be4ce59cca95ce043e1dd2ad2ca9285764e89505fd471c6995,\
19720495f9a746e59f6c0e33eee6d5fd4c25a524546d479e73ba0be470c39e1d,a51d121ff3583fab3dfbc6b35b069e51703865eff758222031f879616eb0bdc1,\
7f71ae00a615ac5f11060decd798ef03f62f57da009625adccffe29b03e14150,5879fccc3c65560915fa54a59b368e75f481ad31e846be674f777beaad0a2961,\
7f6b95d99c558142f32cf2ae65ca30458dd963b7d1957e7d88306357547c90d4,3734158c9b2f4306e2ed64ad32bf6816487d55b1df2bb2c1ea8ed6c00ab0353b,\
0b42edb417981d91e02fed37d8921c242dc24c1232cdafe1b1b98952025f9832,9e2c54e425931550e517804675c53a900ed6498bab1297bd8d159cf85ffbb0e7
expect_ok "Argon 2020: inclusion of entry 10000 in 961,984,013" ok \
	"$CAIRN" audit inclusion-verify --leaf-hash $ARGON_LEAF --index 10000 \
	--size 961984013 --root $ARGON_ROOT --proof $ARGON_PATH
expect_fail "Argon 2020: inclusion in the old tree fails" "does not verify" \
	"$CAIRN" audit inclusion-verify --leaf-hash $ARGON_LEAF --index 10000 \
	--size 3654490 --root $ARGON_OLD --proof $ARGON_PATH
expect_ok "Argon 2020: consistency 3,654,490 -> 961,984,013" ok \
	"$CAIRN" audit consistency-verify --size1 3654490 --size2 961984013 \
	--root1 $ARGON_OLD --root2 $ARGON_ROOT --proof $ARGON_CONS

# consistency-verify on the tree of 8
C68=0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a,ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0,d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
expect_ok "consistency 6 -> 8" ok "$CAIRN" audit consistency-verify \
	--size1 6 --size2 8 --root1 $ROOT6 --root2 $ROOT8 --proof $C68
expect_fail "consistency with swapped roots" "does not verify" \
	"$CAIRN" audit consistency-verify --size1 6 --size2 8 \
	--root1 $ROOT8 --root2 $ROOT6 --proof $C68
expect_fail "consistency with size1 > size2" "greater" \
	"$CAIRN" audit consistency-verify --size1 8 --size2 6 \
	--root1 $ROOT8 --root2 $ROOT6 --proof ""
expect_ok "equal sizes, equal roots, empty proof" ok \
	"$CAIRN" audit consistency-verify --size1 8 --size2 8 \
	--root1 $ROOT8 --root2 $ROOT8 --proof ""
expect_fail "equal sizes, different roots" "roots differ" \
	"$CAIRN" audit consistency-verify --size1 8 --size2 8 \
	--root1 $ROOT8 --root2 $ROOT6 --proof ""
expect_fail "consistency from size 0 is meaningless" "meaningless" \
	"$CAIRN" audit consistency-verify --size1 0 --size2 8 \
	--root1 $EMPTY --root2 $ROOT8 --proof ""
expect_fail "an empty proof between different sizes" "empty" \
	"$CAIRN" audit consistency-verify --size1 6 --size2 8 \
	--root1 $ROOT6 --root2 $ROOT8 --proof ""

# checkpoint-verify
LOGKEY=cairn.example/log+9528b2a6+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c
WKEY=witness.example/w1+df1c0a35+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU
OTHERKEY=example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k
CP="$V/cairn_checkpoint.note"
expect_ok "checkpoint signed by the log and cosigned by the witness" ok \
	"$CAIRN" audit checkpoint-verify --checkpoint "$CP" --key "$LOGKEY" \
	--key "$WKEY"
expect_ok "log key alone" ok "$CAIRN" audit checkpoint-verify \
	--checkpoint "$CP" --key "$LOGKEY"
expect_ok "quorum 2 of 3 keys" ok "$CAIRN" audit checkpoint-verify \
	--checkpoint "$CP" --key "$LOGKEY" --key "$WKEY" --key "$OTHERKEY" \
	--quorum 2
expect_fail "quorum 3 of 3 keys" "2 of 3 keys signed" \
	"$CAIRN" audit checkpoint-verify --checkpoint "$CP" --key "$LOGKEY" \
	--key "$WKEY" --key "$OTHERKEY"
expect_fail "quorum above the number of keys" "--quorum 3" \
	"$CAIRN" audit checkpoint-verify --checkpoint "$CP" --key "$LOGKEY" \
	--quorum 3
# A forged log signature: change one base64 character of its line.
sed '5s/^\(.\{40\}\)./\1A/' "$CP" >"$T/forged"
if cmp -s "$CP" "$T/forged"; then
	sed '5s/^\(.\{40\}\)./\1B/' "$CP" >"$T/forged"
fi
expect_fail "a forged log signature" "0 of 1 keys signed" \
	"$CAIRN" audit checkpoint-verify --checkpoint "$T/forged" --key "$LOGKEY"
# A changed body: every signature breaks.
sed '2s/^8$/9/' "$CP" >"$T/body"
expect_fail "a checkpoint with a changed size" "0 of 2 keys signed" \
	"$CAIRN" audit checkpoint-verify --checkpoint "$T/body" --key "$LOGKEY" \
	--key "$WKEY"
head -n 3 "$CP" >"$T/unsigned"
expect_fail "an unsigned checkpoint" "blank line" \
	"$CAIRN" audit checkpoint-verify --checkpoint "$T/unsigned" --key "$LOGKEY"
expect_fail "a malformed verifier key" "bad --key" \
	"$CAIRN" audit checkpoint-verify --checkpoint "$CP" --key "nope+1234"
expect_fail "a missing checkpoint file" "$T/missing" \
	"$CAIRN" audit checkpoint-verify --checkpoint "$T/missing" --key "$LOGKEY"

# help and usage
if "$CAIRN" audit --help | grep -q "checkpoint-verify" &&
    "$CAIRN" audit inclusion-verify --help | grep -q "^usage: " &&
    "$CAIRN" --help | grep -q "audit"; then
	ok "help texts"
else
	notok "help texts"
fi
expect_fail "unknown option" "unknown or incomplete option" \
	"$CAIRN" audit tree-root --bogus x
if "$CAIRN" audit frobnicate >/dev/null 2>&1; then
	notok "unknown subcommand exits non-zero"
else
	ok "unknown subcommand exits non-zero"
fi

echo "1..$n"
[ "$fails" -eq 0 ]
