# Build and install the anklume tools without a distribution package (see the README's Install).
#
#   make                                   release build (cargo)
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make uninstall PREFIX=/usr
#
# install copies what `make` built and never runs cargo, so that it can run as root after a
# build as a user. Each directory below may be set too (Debian's zsh reads
# ZSHCOMPDIR=/usr/share/zsh/vendor-completions, for instance).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
INSTALL ?= install

COMMANDS := anklume anklume-disp anklume-golden anklume-xfer anklume-backup

.PHONY: all install uninstall

all:
	cargo build --release --locked

install:
	@for c in $(COMMANDS); do \
		test -x target/release/$$c || { echo "make install: target/release/$$c is missing: run make first" >&2; exit 1; }; \
	done
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	for c in $(COMMANDS); do \
		$(INSTALL) -m 755 target/release/$$c $(DESTDIR)$(BINDIR)/$$c && \
		$(INSTALL) -m 644 man/$$c.1 $(DESTDIR)$(MANDIR)/man1/$$c.1 && \
		$(INSTALL) -m 644 completions/$$c.bash $(DESTDIR)$(BASHCOMPDIR)/$$c && \
		$(INSTALL) -m 644 completions/_$$c $(DESTDIR)$(ZSHCOMPDIR)/_$$c && \
		$(INSTALL) -m 644 completions/$$c.fish $(DESTDIR)$(FISHCOMPDIR)/$$c.fish || exit 1; \
	done
	$(INSTALL) -m 644 man/anklume.7 $(DESTDIR)$(MANDIR)/man7/anklume.7

uninstall:
	for c in $(COMMANDS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$c $(DESTDIR)$(MANDIR)/man1/$$c.1 \
			$(DESTDIR)$(BASHCOMPDIR)/$$c $(DESTDIR)$(ZSHCOMPDIR)/_$$c \
			$(DESTDIR)$(FISHCOMPDIR)/$$c.fish; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man7/anklume.7
