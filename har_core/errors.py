"""One exception type for problems a user can fix; anything else is a bug."""


class HarError(Exception):
    """A user-facing problem with a one-line message (bad file, bad URL, bad bundle...).

    The CLI turns it into exit code 2 plus the message on stderr; pages show it with st.error.
    """
