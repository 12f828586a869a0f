# Debian 12's i386 kernel with a busybox initramfs (scripts/linux-fetch gets
# them from Debian's archive with apt-get download and caches them in
# build/linux; fetched here when missing) on each engine: first the early
# boot log (the bzImage loader, the initrd and the ACPI tables as the kernel
# reports them), then a whole session on the serial console: the shell's
# prompt, uname -a, /proc/cpuinfo, a pipeline, a small static i386 program
# (tests/system/linux-prog.c, added to the initramfs) and poweroff, which
# must end plexvm with status 0.  SKIP, with the reason, where the packages
# cannot be fetched.  Sourced by cli.sh (uses tests/system/run's helpers).

K=$B/linux/vmlinuz-686
I=$B/linux/initrd.gz
LINUX_APPEND="console=ttyS0 earlyprintk=serial nokaslr panic=-1"
# What the kernel prints about the machine plexvm built for it (64 MiB).
linux_want=(
	'BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable'
	'BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved'
	'BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable'
	'ACPI: RSDP 0x00000000000F0000 000014 (v00 PLEXVM)'
	'ACPI: FACP 0x00000000000F00C0 000074 (v01 PLEXVM PLEXFACP 00000001 PLXV 00000001)'
	'ACPI: DSDT 0x00000000000F0140 000065 (v01 PLEXVM PLEXDSDT 00000001 PLXV 00000001)'
	'ACPI: PM-Timer IO Port: 0x608'
	"Kernel command line: $LINUX_APPEND"
)

# Boots until the last wanted line appears (bounded by $TIMEOUT * 2), then
# stops plexvm: the lines come in the first second of the boot.
linux_early_boot() {
	local e=$1 log=$OUT/linux-$e.out i pid missing=
	timeout -k 5 $((TIMEOUT * 2)) "$PLEXVM" --engine "$e" --kernel "$K" --initrd "$I" -m 64M \
		--append "$LINUX_APPEND" >"$log" 2>"$OUT/linux-$e.err" </dev/null &
	pid=$!
	for ((i = 0; i < TIMEOUT * 10; i++)); do
		grep -qF 'Kernel command line:' "$log" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.2
	done
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	for w in "${linux_want[@]}"; do
		grep -qF -- "$w" "$log" || { missing=$w; break; }
	done
	# The initrd ends at the end of RAM, page aligned.
	grep -qE 'RAMDISK: \[mem 0x03[0-9a-f]{3}000-0x03ffffff\]' "$log" || missing=${missing:-RAMDISK}
	if [ -n "$missing" ]; then
		bad "linux/early-boot/$e" "boot log lacks: $missing" "$log"
	elif grep -qiE 'ACPI (BIOS )?(Error|Warning)|ACPI: .*(bad|invalid) checksum' "$log"; then
		bad "linux/early-boot/$e" "ACPI complains" "$log"
	else
		ok "linux/early-boot/$e"
	fi
}


# The session: typed line by line once the shell's prompt is back, through
# tests/system/serial-session.  Each check matches output only (a line
# start the echoed command cannot give).  Integer work comes before
# floating point, so that a wrong FPU shows as such.
LINUX_SESSION_APPEND="console=ttyS0 pci=off noisapnp cryptomgr.notests panic=-1"
LINUX_LIMIT=${PLEXVM_LINUX_TIMEOUT:-300}
linux_session_script() {
	cat <<'STEPS'
expect ^plexvm-linux: init
expect / # 
send uname -a
expect ^Linux [^ ]+ 6\.[0-9]+\.[0-9]+-[0-9]+-686 .* i686 GNU/Linux
expect / # 
send cat /proc/cpuinfo
expect ^vendor_id[[:space:]]*: GenuineIntel
expect ^flags[[:space:]]*: fpu .*cx8.* cmov
expect / # 
# numbers from 1 to 100 with a 7 in them: 7, 17, ..., 97 and 70-79
send seq 1 100 | grep 7 | wc -l | sed 's/^/sevens: /'
expect ^sevens: 19
expect / # 
send /bin/linux-prog
expect ^linux-prog: primes=9592 child=42 word=piped
expect ^linux-prog: sqrt=1\.414213562
expect / # 
send echo 1.5 2.25 | awk '{ print "product: " $1 * $2 }'
expect ^product: 3\.375
expect / # 
send poweroff
expect reboot: Power down
STEPS
}

# The test's initramfs: Debian's, with a second cpio archive appended that
# adds /bin/linux-prog (the kernel unpacks concatenated archives in turn).
linux_test_initrd() {
	local root=$OUT/linux-root
	rm -rf "$root" && mkdir -p "$root/bin" &&
		gcc -m32 -static -s -O2 -std=gnu11 -Wall -Wextra -Werror tests/system/linux-prog.c \
			-o "$root/bin/linux-prog" -lm &&
		(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -9n >"$OUT/linux-prog.cpio.gz" &&
		cat "$I" "$OUT/linux-prog.cpio.gz" >"$OUT/linux-initrd.gz"
}

linux_shell() {
	local e=$1 log=$OUT/linux-shell-$e.out
	linux_session_script >"$OUT/linux-session.steps"
	tests/system/serial-session "$OUT/linux-session.steps" "$log" "$LINUX_LIMIT" -- \
		"$PLEXVM" --engine "$e" --kernel "$K" --initrd "$OUT/linux-initrd.gz" -m 256M \
		--append "$LINUX_SESSION_APPEND" >"$OUT/linux-shell-$e.steps" 2>&1
	if ! grep -qx 'status 0' "$OUT/linux-shell-$e.steps"; then
		{ cat "$OUT/linux-shell-$e.steps"; echo "-- serial output, last lines:"; tail -n 15 "$log"
		  echo "-- stderr:"; tail -n 5 "$log.err"; } >"$OUT/linux-shell-$e.why"
		bad "linux/shell/$e" "$(grep -E '^(serial-session|status)' "$OUT/linux-shell-$e.steps" | tail -n 1)" \
			"$OUT/linux-shell-$e.why"
	else
		ok "linux/shell/$e"
	fi
}

# The PAE kernel on the monitor, which keys what a CR3 switch keeps by two
# 2 MiB directory entries there (monitor_paging.c): boot, uname, poweroff.
linux_pae_shell() {
	local e=monitor log=$OUT/linux-pae-$e.out
	cat >"$OUT/linux-pae.steps" <<'STEPS'
expect ^plexvm-linux: init
expect / # 
send uname -r
expect ^6\.[0-9]+\.[0-9]+-[0-9]+-686-pae
expect / # 
send poweroff
expect reboot: Power down
STEPS
	tests/system/serial-session "$OUT/linux-pae.steps" "$log" "$LINUX_LIMIT" -- \
		"$PLEXVM" --engine "$e" --kernel "$B/linux/vmlinuz-686-pae" --initrd "$I" -m 256M \
		--append "$LINUX_SESSION_APPEND" >"$OUT/linux-pae-$e.steps" 2>&1
	if grep -qx 'status 0' "$OUT/linux-pae-$e.steps"; then
		ok "linux/pae/$e"
	else
		{ cat "$OUT/linux-pae-$e.steps"; echo "-- serial output, last lines:"; tail -n 15 "$log"; } \
			>"$OUT/linux-pae-$e.why"
		bad "linux/pae/$e" "$(grep -E '^(serial-session|status)' "$OUT/linux-pae-$e.steps" | tail -n 1)" \
			"$OUT/linux-pae-$e.why"
	fi
}

# Fetched once, then taken from the cache; apt-get needs root or sudo
# without a password, and Debian's archive.
linux_why=
if [ ! -f "$K" ] || [ ! -f "$I" ]; then
	echo "linux: fetching Debian's i386 kernel and busybox (scripts/linux-fetch)"
	timeout 900 scripts/linux-fetch "$B/linux" >"$OUT/linux-fetch.log" 2>&1 ||
		linux_why="scripts/linux-fetch failed: $(grep -v '^plexvm: ' "$OUT/linux-fetch.log" | tail -n 1)"
	if [ -z "$linux_why" ] && { [ ! -f "$K" ] || [ ! -f "$I" ]; }; then
		linux_why="no $K or $I after scripts/linux-fetch"
	fi
fi
if [ -n "$linux_why" ]; then
	skipped linux "$linux_why ($OUT/linux-fetch.log)"
elif ! linux_test_initrd >"$OUT/linux-initrd.log" 2>&1; then
	bad linux/initrd "cannot build the test initramfs" "$OUT/linux-initrd.log"
else
	for e in "${engines[@]}"; do
		# KVM-PVM cannot run 32-bit paging, which Linux turns on at once.
		if [ "$e" = kvm ] && [ $kvm_is_pvm = 1 ]; then
			skipped "linux/kvm" "KVM-PVM cannot run 32-bit paging (CR0.PG without EFER.LME is #GP), see docs/design.md"
			continue
		fi
		linux_early_boot "$e"
		linux_shell "$e"
	done
	if [ ! -f "$B/linux/vmlinuz-686-pae" ]; then
		skipped linux/pae/monitor "no $B/linux/vmlinuz-686-pae after scripts/linux-fetch"
	elif [[ " ${engines[*]} " == *" monitor "* ]]; then
		linux_pae_shell
	fi
fi
