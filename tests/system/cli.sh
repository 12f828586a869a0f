# The command-line contract, sourced by tests/system/run (uses its helpers).
# Each check is what a user would try: the statuses in --help, and a message
# that names the problem.

expect() { # name, wanted status, grep pattern for stdout+stderr, plexvm args...
	local name=$1 want=$2 pat=$3; shift 3
	run_plexvm "cli-$name" "$@"
	if [ "$rc" -ne "$want" ]; then
		bad "cli/$name" "exit status $rc, want $want" "$OUT/cli-$name.err"
	elif [ -n "$pat" ] && ! cat "$OUT/cli-$name.out" "$OUT/cli-$name.err" | grep -qiE -- "$pat"; then
		bad "cli/$name" "output lacks /$pat/" "$OUT/cli-$name.err"
	else
		ok "cli/$name"
	fi
}

T=$OUT/tmp
mkdir -p "$T"
: >"$T/empty"
printf 'not a kernel' >"$T/short"
printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000\002\000\003\000' >"$T/truncated.elf"
printf 'memory = 64M\nmemroy = 32M\n' >"$T/typo.ini"
printf 'memory = 64M\nengine = warp\n' >"$T/badvalue.ini"
# A bzImage of boot protocol 2.01: boot_flag at 0x1FE, jump and "HdrS" at 0x200.
head -c 4096 /dev/zero >"$T/old.bzimage"
printf '\125\252\353\146HdrS\001\002' | dd of="$T/old.bzimage" bs=1 seek=510 conv=notrunc 2>/dev/null
printf 'kernel = %s\ninitrd = %s\n' "$T/short" "$T/short" >"$T/initrd.ini"

expect help 0 'exit status' --help
expect version 0 '^plexvm [0-9]' --version
expect unknown-option 2 'bogus' --bogus
expect bad-memory 2 'memory' --memory 12Q
expect memory-too-big 2 'memory' --memory 1T
expect bad-engine 2 'warp' --engine warp
expect config-missing 2 'nowhere.ini' --config "$T/nowhere.ini"
expect config-unknown-key 2 'typo.ini:2.*memroy' --config "$T/typo.ini"
expect config-bad-value 2 'badvalue.ini:2.*engine' --config "$T/badvalue.ini"
expect kernel-missing 4 'no-such-kernel' "$T/no-such-kernel"
expect kernel-directory 4 "$T" "$T"
expect kernel-empty 4 'empty' "$T/empty"
expect kernel-truncated-elf 4 'truncated.elf' "$T/truncated.elf"
expect bzimage-old-protocol 4 'old.bzimage: boot protocol version 2.01' "$T/old.bzimage"
expect initrd-needs-linux 4 'initrd needs a Linux bzImage' --initrd "$T/short" "$T/short"
expect initrd-config-key 4 'initrd needs a Linux bzImage' --config "$T/initrd.ini"
expect initrd-missing 4 'no-such-initrd' --initrd "$T/no-such-initrd" "$T/old.bzimage"

if [ ${#engines[@]} -eq 0 ]; then
	skipped "cli/guest-runs" "no engine can run here"
else
	e=${engines[0]}
	expect demo 0 'plexvm' --engine "$e"
	expect serial-file 0 '' --engine "$e" --serial "file:$T/serial.txt"
	if grep -qi plexvm "$T/serial.txt" 2>/dev/null; then ok cli/serial-file-content
	else bad cli/serial-file-content "the demo's greeting is not in the --serial file"; fi
	expect stats-json 0 '"exits"' --engine "$e" --serial none --stats=json
	expect stats-text 0 'start-to-guest-entry-us' --engine "$e" --serial none --stats
	# Guests that misbehave are stopped with a reason on every engine.
	# UD2 with no IDT: #UD, then #DF, then a triple fault: status 6 and the
	# registers.  CLI; HLT: nothing can ever wake the guest; no hang,
	# status 6.  A far jump to a selector past the (empty) GDT: #GP, and
	# with no IDT a triple fault.
	printf '\017\013' >"$T/ud2.bin"
	printf '\372\364' >"$T/clihlt.bin"
	printf '\352\000\000\020\000\063\000' >"$T/farjmp.bin"
	for g in "${engines[@]}"; do
		expect "triple-fault-$g" 6 'EIP' --engine "$g" "$T/ud2.bin"
		expect "halt-forever-$g" 6 'halt' --engine "$g" "$T/clihlt.bin"
		expect "far-jump-nowhere-$g" 6 'EIP' --engine "$g" "$T/farjmp.bin"
	done
	if [ -f "$B/guests/vga.elf" ]; then
		expect vga-dump 1 '' --engine "$e" --serial none --vga dump "$B/guests/vga.elf"
		# The kernel says on serial what it put on the screen ("screen: TEXT").
		"$PLEXVM" --engine "$e" "$B/guests/vga.elf" </dev/null 2>/dev/null |
			sed -n 's/^screen: //p' >"$T/vga-want.txt"
		missing=$(grep -vxF -f "$OUT/cli-vga-dump.out" "$T/vga-want.txt" | head -1)
		if [ ! -s "$T/vga-want.txt" ]; then bad cli/vga-dump-content "the vga kernel printed no 'screen:' lines"
		elif [ -n "$missing" ]; then bad cli/vga-dump-content "screen line missing from --vga dump: $missing" "$OUT/cli-vga-dump.out"
		else ok cli/vga-dump-content; fi
	fi
fi

# The monitor needs the low 4 GiB of plexvm's address space for the guest;
# under an address-space limit it cannot have them and must say so (status
# 8), not crash.
if [[ " ${engines[*]} " == *" monitor "* ]]; then
	rc=$(bash -c 'ulimit -v 1048576; exec "$0" "$@"' "$PLEXVM" --engine monitor --serial none \
		>"$OUT/cli-monitor-no-room.out" 2>"$OUT/cli-monitor-no-room.err" </dev/null; echo $?)
	if [ "$rc" -eq 8 ] && grep -q "reserve the guest's 4 GiB" "$OUT/cli-monitor-no-room.err"; then
		ok cli/monitor-no-room
	else
		bad cli/monitor-no-room "status $rc, want 8 and a message" "$OUT/cli-monitor-no-room.err"
	fi
fi

. tests/system/linux.sh
