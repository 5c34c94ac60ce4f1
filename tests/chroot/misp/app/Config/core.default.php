<?php // test double of MISP's core.default.php
