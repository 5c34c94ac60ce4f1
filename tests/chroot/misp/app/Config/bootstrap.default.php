<?php // test double of MISP's bootstrap.default.php
