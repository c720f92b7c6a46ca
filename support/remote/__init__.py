"""Programs the suite runs ON a rented machine, with the machine's own Python (not the suite's).

Each is a standalone script, standard library only at the top, shipped over SSH as the program of
``python3 -``: nothing is copied onto the machine and nothing is left there. They are files of the
package so that they ship with it; the suite reads them as text and never imports them.
"""
