/*
 * bcryptprimitives.dll for Wine 8 (Debian 12's), which has none: Go's
 * runtime (1.22 on) needs its ProcessPrng at start, and exits without it.
 * This one asks advapi32's RtlGenRandom (SystemFunction036), the system's
 * CSPRNG, which Wine has. Only `make test-windows` uses it, in a Wine
 * prefix of its own; a Windows machine has the real one.
 */
#include <windows.h>

typedef BOOLEAN (WINAPI *genrandom)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	static genrandom f;
	if (!f)
		f = (genrandom)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!f || !f(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
