/*
 * xdnd drops files on an X11 window the way a file manager does: it plays
 * the source side of the XDND protocol (version 5) with real X events, so
 * an end-to-end test can drag files onto a real window. Built by the test
 * harness with the system's C compiler and Xlib.
 *
 * usage: xdnd WINDOW X Y URI...   (X, Y relative to the window)
 * exit:  0 dropped and finished; 2 usage or display; 3 the window does not
 *        take drops; 4 it refused this one; 5 no answer in time.
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static Display *dpy;

static Atom atom(const char *name) { return XInternAtom(dpy, name, False); }

static void message(Window to, Atom type, long l0, long l1, long l2, long l3, long l4) {
	XEvent e;
	memset(&e, 0, sizeof e);
	e.xclient.type = ClientMessage;
	e.xclient.display = dpy;
	e.xclient.window = to;
	e.xclient.message_type = type;
	e.xclient.format = 32;
	e.xclient.data.l[0] = l0;
	e.xclient.data.l[1] = l1;
	e.xclient.data.l[2] = l2;
	e.xclient.data.l[3] = l3;
	e.xclient.data.l[4] = l4;
	XSendEvent(dpy, to, False, NoEventMask, &e);
	XFlush(dpy);
}

static double now(void) {
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: xdnd WINDOW X Y URI...\n");
		return 2;
	}
	dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "xdnd: cannot open the display\n");
		return 2;
	}
	Window target = (Window)strtoul(argv[1], NULL, 0);
	int x = atoi(argv[2]), y = atoi(argv[3]);
	size_t n = 0;
	for (int i = 4; i < argc; i++)
		n += strlen(argv[i]) + 2;
	char *uris = calloc(n + 1, 1);
	for (int i = 4; i < argc; i++) {
		strcat(uris, argv[i]);
		strcat(uris, "\r\n");
	}

	Atom aware = atom("XdndAware"), enter = atom("XdndEnter"), position = atom("XdndPosition"),
	     status = atom("XdndStatus"), drop = atom("XdndDrop"), finished = atom("XdndFinished"),
	     leave = atom("XdndLeave"), selection = atom("XdndSelection"), copy = atom("XdndActionCopy"),
	     urilist = atom("text/uri-list");

	Atom type;
	int format;
	unsigned long items, rest;
	unsigned char *data = NULL;
	if (XGetWindowProperty(dpy, target, aware, 0, 1, False, AnyPropertyType, &type, &format, &items, &rest, &data) != Success || !data) {
		fprintf(stderr, "xdnd: window 0x%lx does not take drops\n", target);
		return 3;
	}
	XFree(data);

	Window root = DefaultRootWindow(dpy), child;
	Window source = XCreateSimpleWindow(dpy, root, 0, 0, 1, 1, 0, 0, 0);
	XSelectInput(dpy, source, PropertyChangeMask);
	XSetSelectionOwner(dpy, selection, source, CurrentTime);
	int rx, ry;
	XTranslateCoordinates(dpy, target, root, x, y, &rx, &ry, &child);

	message(target, enter, source, 5L << 24, urilist, None, None);
	message(target, position, source, 0, ((long)rx << 16) | (ry & 0xffff), CurrentTime, copy);

	int dropped = 0;
	for (double deadline = now() + 15; now() < deadline;) {
		while (XPending(dpy)) {
			XEvent e;
			XNextEvent(dpy, &e);
			if (e.type == ClientMessage && e.xclient.message_type == status && !dropped) {
				if (!(e.xclient.data.l[1] & 1)) {
					message(target, leave, source, 0, 0, 0, 0);
					fprintf(stderr, "xdnd: the window refused the drop\n");
					return 4;
				}
				message(target, drop, source, 0, CurrentTime, 0, 0);
				dropped = 1;
			} else if (e.type == SelectionRequest) {
				XSelectionRequestEvent *r = &e.xselectionrequest;
				XEvent reply;
				memset(&reply, 0, sizeof reply);
				reply.xselection.type = SelectionNotify;
				reply.xselection.display = dpy;
				reply.xselection.requestor = r->requestor;
				reply.xselection.selection = r->selection;
				reply.xselection.target = r->target;
				reply.xselection.time = r->time;
				reply.xselection.property = None;
				if (r->target == urilist && r->property != None) {
					XChangeProperty(dpy, r->requestor, r->property, urilist, 8, PropModeReplace,
					                (unsigned char *)uris, (int)strlen(uris));
					reply.xselection.property = r->property;
				}
				XSendEvent(dpy, r->requestor, False, NoEventMask, &reply);
				XFlush(dpy);
			} else if (e.type == ClientMessage && e.xclient.message_type == finished) {
				return 0;
			}
		}
		usleep(10000);
	}
	fprintf(stderr, "xdnd: no answer from the window\n");
	return 5;
}
