"""`fera data get|convert|verify`: obtain FER-2013 (and FER+ labels), turn the CSV into class folders or
Microsoft's FER+ layout, check them.

get.py downloads or unpacks the data, convert.py writes the folders, verify.py checks them, ferplus.py reads
the FER+ layout and turns its votes into training targets, fer2013.py holds what is known about both
datasets (official counts, checksums), command.py is the command line.
"""
