/* monitors: sets up RandR monitors on the display's one screen, as a
 * desktop does for several monitors: each argument is WxH+X+Y, the first
 * the primary.
 * Build: cc -O -o monitors monitors.c -lXrandr -lX11
 */
#include <X11/Xlib.h>
#include <X11/extensions/Xrandr.h>
#include <stdio.h>

int main(int argc, char **argv) {
	Display *d = XOpenDisplay(NULL);
	if (!d) {
		fprintf(stderr, "monitors: cannot open the display\n");
		return 1;
	}
	Window root = DefaultRootWindow(d);
	for (int i = 1; i < argc; i++) {
		int w, h, x, y;
		if (sscanf(argv[i], "%dx%d+%d+%d", &w, &h, &x, &y) != 4) {
			fprintf(stderr, "monitors: %s is not WxH+X+Y\n", argv[i]);
			return 2;
		}
		char name[16];
		snprintf(name, sizeof name, "TEST-%d", i);
		XRRMonitorInfo *m = XRRAllocateMonitor(d, 0);
		m->name = XInternAtom(d, name, False);
		m->primary = i == 1;
		m->x = x, m->y = y, m->width = w, m->height = h;
		m->mwidth = w / 4, m->mheight = h / 4;
		XRRSetMonitor(d, root, m);
		XRRFreeMonitors(m);
	}
	XSync(d, False);
	XCloseDisplay(d);
	return 0;
}
