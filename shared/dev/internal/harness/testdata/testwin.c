/* testwin: a small X window of the tests' own, to look at and to act on
 * through screen sharing. It shows a "button" (a blue square) and a text
 * field, and reports on stdout, a line each:
 *   ready X Y W H      mapped, at X, Y with size W x H (screen pixels)
 *   button BX BY BW BH the button's place on the screen
 *   field FX FY FW FH  the text field's place on the screen
 *   clicked N          button N pressed over the button
 *   text T             the field's text after a key press
 *   scrolled N         (with "scroll N") N lines scrolled, then still
 *   motion X Y T       (with "motion") the pointer moved over the window, to
 *                      X, Y on the screen; T is when the event was read,
 *                      CLOCK_MONOTONIC in nanoseconds (for benchmarks)
 * It also paints the root window (the desktop behind it) with a picture of
 * many colours: a gradient with noise.
 * Usage: testwin X Y [scroll N] [motion]
 * Build: cc -O -o testwin testwin.c -lX11
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { W = 480, H = 300, BX = 20, BY = 20, BW = 120, BH = 60, FX = 20, FY = 100, FW = 440, FH = 40,
       SX = 20, SY = 160, SW = 440, SH = 120, LINE = 14 };

static Display *d;
static Window w;
static GC gc;
static char text[512];
static unsigned long white, black, blue, grey;

static void draw(void) {
	XSetForeground(d, gc, grey);
	XFillRectangle(d, w, gc, 0, 0, W, H);
	XSetForeground(d, gc, blue);
	XFillRectangle(d, w, gc, BX, BY, BW, BH);
	XSetForeground(d, gc, white);
	XDrawString(d, w, gc, BX + 30, BY + 35, "Press", 5);
	XFillRectangle(d, w, gc, FX, FY, FW, FH);
	XSetForeground(d, gc, black);
	XDrawString(d, w, gc, FX + 6, FY + 25, text, strlen(text));
}

static void scrollOnce(int n) {
	char line[128];
	XCopyArea(d, w, w, gc, SX, SY + LINE, SW, SH - LINE, SX, SY);
	XSetForeground(d, gc, white);
	XFillRectangle(d, w, gc, SX, SY + SH - LINE, SW, LINE);
	XSetForeground(d, gc, black);
	snprintf(line, sizeof line, "line %d: the quick brown fox jumps over the lazy dog %d", n, n * 7919 % 1000);
	XDrawString(d, w, gc, SX + 4, SY + SH - 3, line, strlen(line));
	XFlush(d);
}

/* backdrop paints the root window: red across, green down, noisy blue. */
static void backdrop(int s) {
	Window root = RootWindow(d, s);
	int w = DisplayWidth(d, s), h = DisplayHeight(d, s);
	XImage *img = XCreateImage(d, DefaultVisual(d, s), DefaultDepth(d, s), ZPixmap, 0, NULL, w, h, 32, 0);
	img->data = malloc((size_t)img->bytes_per_line * h);
	unsigned seed = 12345;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			seed = seed * 1103515245 + 12345;
			XPutPixel(img, x, y, (unsigned long)(x * 255 / w) << 16 | (unsigned long)(y * 255 / h) << 8 | (seed >> 16 & 0xff));
		}
	Pixmap pm = XCreatePixmap(d, root, w, h, DefaultDepth(d, s));
	XPutImage(d, pm, DefaultGC(d, s), img, 0, 0, 0, 0, w, h);
	XSetWindowBackgroundPixmap(d, root, pm);
	XClearWindow(d, root);
	XDestroyImage(img);
}

static unsigned long colour(const char *name) {
	XColor c, exact;
	XAllocNamedColor(d, DefaultColormap(d, DefaultScreen(d)), name, &c, &exact);
	return c.pixel;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: testwin X Y [scroll N] [motion]\n");
		return 2;
	}
	int x = atoi(argv[1]), y = atoi(argv[2]), scroll = 0, motion = 0;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "scroll") == 0 && i + 1 < argc)
			scroll = atoi(argv[++i]);
		else if (strcmp(argv[i], "motion") == 0)
			motion = 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	d = XOpenDisplay(NULL);
	if (!d) {
		fprintf(stderr, "testwin: cannot open the display\n");
		return 1;
	}
	int s = DefaultScreen(d);
	white = WhitePixel(d, s);
	black = BlackPixel(d, s);
	blue = colour("#2050c0");
	grey = colour("#d8d8d8");
	backdrop(s);
	XSetWindowAttributes a = {0};
	a.override_redirect = True; /* no window manager on a test display: stay where put */
	a.background_pixel = grey;
	w = XCreateWindow(d, RootWindow(d, s), x, y, W, H, 0, CopyFromParent, InputOutput, CopyFromParent,
	                  CWOverrideRedirect | CWBackPixel, &a);
	XStoreName(d, w, "porthole testwin");
	XSelectInput(d, w, ExposureMask | ButtonPressMask | KeyPressMask | StructureNotifyMask | (motion ? PointerMotionMask : 0));
	gc = XCreateGC(d, w, 0, NULL);
	XMapRaised(d, w);
	int ready = 0, scrolled = 0;
	for (;;) {
		while (!ready || XPending(d)) {
			XEvent ev;
			XNextEvent(d, &ev);
			switch (ev.type) {
			case Expose:
				if (ev.xexpose.count == 0) {
					draw();
					XSetForeground(d, gc, white);
					XFillRectangle(d, w, gc, SX, SY, SW, SH);
					XFlush(d);
				}
				if (!ready) {
					XSetInputFocus(d, w, RevertToParent, CurrentTime);
					XSync(d, False);
					printf("ready %d %d %d %d\n", x, y, W, H);
					printf("button %d %d %d %d\n", x + BX, y + BY, BW, BH);
					printf("field %d %d %d %d\n", x + FX, y + FY, FW, FH);
					ready = 1;
				}
				break;
			case MotionNotify: {
				struct timespec now;
				clock_gettime(CLOCK_MONOTONIC, &now);
				printf("motion %d %d %lld\n", ev.xmotion.x_root, ev.xmotion.y_root,
				       (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
				break;
			}
			case ButtonPress:
				if (ev.xbutton.x >= BX && ev.xbutton.x < BX + BW && ev.xbutton.y >= BY && ev.xbutton.y < BY + BH)
					printf("clicked %u\n", ev.xbutton.button);
				break;
			case KeyPress: {
				char buf[32];
				KeySym sym;
				int n = XLookupString(&ev.xkey, buf, sizeof buf - 1, &sym, NULL);
				if (sym == XK_BackSpace && strlen(text) > 0) {
					text[strlen(text) - 1] = 0;
				} else if (n > 0 && buf[0] >= 32 && strlen(text) + n < sizeof text - 1) {
					buf[n] = 0;
					strcat(text, buf);
				} else {
					break;
				}
				draw();
				XFlush(d);
				printf("text %s\n", text);
				break;
			}
			}
		}
		if (scrolled < scroll) {
			scrollOnce(++scrolled);
			if (scrolled == scroll)
				printf("scrolled %d\n", scrolled);
			struct timespec ts = {0, 33 * 1000 * 1000};
			nanosleep(&ts, NULL);
		} else {
			XEvent ev;
			XPeekEvent(d, &ev); /* wait for the next event */
		}
	}
}
