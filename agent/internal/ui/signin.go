package ui

import (
	"strings"

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

	localForm := widget.NewForm(widget.NewFormItem("Port", port))
	localHint := quiet("Customers on your network connect to this computer.")
	serverForm := widget.NewForm(widget.NewFormItem("Address", addr), widget.NewFormItem("Fingerprint", fp))
	where := widget.NewRadioGroup([]string{choiceLocal, choiceServer}, func(s string) {
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

	signIn := widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), nil)
	signIn.Importance = widget.HighImportance
	submit := func() {
		s := SignIn{
			Local: where.Selected == choiceLocal, LocalPort: strings.TrimSpace(port.Text),
			Address: strings.TrimSpace(addr.Text), Fingerprint: strings.TrimSpace(fp.Text),
			Name: strings.TrimSpace(name.Text), Password: pw.Text, First: f.First,
		}
		if s.Name == "" || s.Password == "" || (!s.Local && s.Address == "") {
			return
		}
		w.act.SignIn(s)
	}
	signIn.OnTapped = submit
	for _, e := range []*widget.Entry{port, addr, fp, name, pw} {
		e.OnSubmitted = func(string) { submit() }
	}

	title, intro := "Sign in", "Sign in with your agent account."
	if f.First {
		title = "Set up Porthole"
		intro = "Choose where customers meet you, then sign in. With a relay on this computer, the first name and password you choose become its agent account."
	}
	account := widget.NewForm(widget.NewFormItem("Name", name), widget.NewFormItem("Password", pw))
	w.win.SetContent(container.NewVScroll(desktopui.Card(
		desktopui.Logo(Icon, 80),
		desktopui.Heading(title),
		desktopui.Wrapped(intro),
		section("Relay", where, localForm, localHint, serverForm),
		section("Account", account),
		desktopui.ErrorText(errMsg),
		signIn,
	)))
	if f.Name == "" {
		w.win.Canvas().Focus(name)
	} else {
		w.win.Canvas().Focus(pw)
	}
}
