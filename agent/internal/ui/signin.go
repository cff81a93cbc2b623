package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

// SignIn is what the sign-in screen collects, and shows again.
type SignIn struct {
	Local       bool   // run a relay inside the console, on this computer
	LocalPort   string // the UDP port that relay listens on
	Address     string // a relay server's host:port
	Fingerprint string // its certificate pin; empty: a real certificate
	Name        string
	Password    string
	First       bool // nothing is set up yet: the setup wording
}

const (
	choiceLocal  = "A relay on this computer (local network)"
	choiceServer = "A relay server"
)

// ShowSignIn shows the setup and sign-in screen filled in from f, with
// errMsg (if any) under it in the error colour.
func (w *Window) ShowSignIn(f SignIn, errMsg string) {
	w.leaveScreen()
	w.win.SetTitle(Title)
	port := widget.NewEntry()
	port.SetPlaceHolder("7443")
	port.SetText(f.LocalPort)
	addr := widget.NewEntry()
	addr.SetPlaceHolder("relay.example.com:7443")
	addr.SetText(f.Address)
	fp := widget.NewEntry()
	fp.SetPlaceHolder("sha256:… (empty for a real certificate)")
	fp.SetText(f.Fingerprint)
	name := widget.NewEntry()
	name.SetPlaceHolder("Your agent name")
	name.SetText(f.Name)
	pw := widget.NewPasswordEntry()
	pw.SetPlaceHolder("Password")
	// Setting up the relay on this computer makes the account: the
	// password is typed twice.
	again := widget.NewPasswordEntry()
	again.SetPlaceHolder("The same password again")
	account := widget.NewForm(widget.NewFormItem("Name", name), widget.NewFormItem("Password", pw))
	againItem := widget.NewFormItem("Repeat", again)
	makesAccount := func(local bool) bool { return f.First && local }

	localForm := widget.NewForm(widget.NewFormItem("Port", port))
	localHint := quiet("Customers on your network connect to this computer.")
	serverForm := widget.NewForm(widget.NewFormItem("Address", addr), widget.NewFormItem("Fingerprint", fp))
	where := widget.NewRadioGroup([]string{choiceLocal, choiceServer}, func(s string) {
		if makesAccount(s == choiceLocal) != (len(account.Items) == 3) {
			if makesAccount(s == choiceLocal) {
				account.AppendItem(againItem)
			} else {
				account.Items = account.Items[:2]
				account.Refresh()
			}
		}
		if s == choiceLocal {
			localForm.Show()
			localHint.Show()
			serverForm.Hide()
		} else {
			localForm.Hide()
			localHint.Hide()
			serverForm.Show()
		}
	})
	where.Required = true
	if f.Local {
		where.SetSelected(choiceLocal)
	} else {
		where.SetSelected(choiceServer)
	}

	errLabel := desktopui.ErrorText(errMsg)
	signIn := widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), nil)
	signIn.Importance = widget.HighImportance
	submit := func() {
		s := SignIn{
			Local: where.Selected == choiceLocal, LocalPort: strings.TrimSpace(port.Text),
			Address: strings.TrimSpace(addr.Text), Fingerprint: strings.TrimSpace(fp.Text),
			Name: strings.TrimSpace(name.Text), Password: pw.Text, First: f.First,
		}
		missing, focus := incomplete(s, again.Text, makesAccount(s.Local)), fyne.Focusable(nil)
		switch {
		case missing == "":
			w.act.SignIn(s)
			return
		case !s.Local && s.Address == "":
			focus = addr
		case s.Name == "":
			focus = name
		case s.Password == "" || !makesAccount(s.Local):
			focus = pw
		default:
			focus = again
		}
		errLabel.SetText(missing)
		errLabel.Show()
		w.win.Canvas().Focus(focus)
	}
	signIn.OnTapped = submit
	for _, e := range []*widget.Entry{port, addr, fp, name, pw, again} {
		e.OnSubmitted = func(string) { submit() }
	}

	title, intro := "Sign in", "Sign in with your agent account."
	if f.First {
		title = "Set up Porthole"
		intro = "Choose where customers meet you, then sign in. With a relay on this computer, the first name and password you choose become its agent account."
	}
	w.win.SetContent(container.NewVScroll(desktopui.Card(
		desktopui.Logo(Icon, 80),
		desktopui.Heading(title),
		desktopui.Wrapped(intro),
		section("Relay", where, localForm, localHint, serverForm),
		section("Account", account),
		errLabel,
		signIn,
	)))
	if f.Name == "" {
		w.win.Canvas().Focus(name)
	} else {
		w.win.Canvas().Focus(pw)
	}
}

// incomplete says what the form still needs before signing in, or "".
func incomplete(s SignIn, repeated string, makesAccount bool) string {
	switch {
	case !s.Local && s.Address == "":
		return "Enter the relay server's address."
	case s.Name == "" && s.Password == "":
		return "Enter your name and password."
	case s.Name == "":
		return "Enter your name."
	case s.Password == "":
		return "Enter your password."
	case makesAccount && repeated != s.Password:
		return "The two passwords are not the same. Type the password again under Repeat."
	}
	return ""
}
