# Debian 12's i386 kernel (scripts/linux-fetch caches it in build/linux) on
# each engine as far as it boots today: the bzImage loader, the initrd and
# the ACPI tables as the kernel's own early log reports them.  SKIP without
# the packages.  Sourced by cli.sh (uses tests/system/run's helpers).

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
# stops plexvm: without an x87 in the engine the kernel never ends by itself.
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

if [ ! -f "$K" ] || [ ! -f "$I" ]; then
	skipped linux "no $K and $I (scripts/linux-fetch gets them from Debian's archive)"
else
	for e in "${engines[@]}"; do
		# KVM-PVM cannot run 32-bit paging, which Linux turns on at once.
		[ "$e" = kvm ] && { skipped "linux/early-boot/kvm" "32-bit paging"; continue; }
		linux_early_boot "$e"
	done
fi
